"""From a flat table to (X, y, groups, times): target parsing, column checks, and what a caller's ``Domain``
says about the table (its keys, groups, dates, outcome windows and declared types). Nothing here knows a
particular domain: the caller decides whether one applies and passes it in."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pymescore.errors import ConfigError, PymescoreError
from pymescore.model._config import TrainConfig
from pymescore.model._domain import Domain
from pymescore.model._typing import ColumnType, infer_types, naive_utc

_TRUE = {"1", "1.0", "true", "yes", "y", "si", "sí", "default", "bad"}
_FALSE = {"0", "0.0", "false", "no", "n", "good"}


@dataclass(frozen=True)
class Rejects:
    """Rejected applications: rows without a target whose rejected column is 1 (the lender made no loan, so no
    outcome exists), as the trainer reads them: features (the columns of ``Prepared.X``), groups, dates."""

    X: pd.DataFrame
    groups: np.ndarray
    times: np.ndarray | None
    label_ends: np.ndarray | None


@dataclass(frozen=True)
class Prepared:
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    times: np.ndarray | None
    excluded_rows: int
    #: what the caller said about the table (None: a table like any other)
    domain: Domain | None
    config: TrainConfig
    #: the last day of each row's outcome window (the domain's ``label_end_col``), else None
    label_ends: np.ndarray | None = None
    #: the rejected applications (None without any); counted in ``excluded_rows`` too
    rejects: Rejects | None = None
    #: each row's monthly histories (rows × months × the domain's ``sequence_cols``), when the table holds them
    sequences: np.ndarray | None = None
    sequence_cols: tuple[str, ...] = ()


def parse_target(values: pd.Series, positive: str | None, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(y as 0/1, mask of rows with a target). Empty targets are excluded, never labelled good."""
    text = values.astype("string").str.strip()
    present = (text.notna() & (text != "")).to_numpy()
    if positive is not None:
        y = (text == str(positive).strip()).fillna(False).to_numpy(dtype=bool)
        if present.any() and not y[present].any():
            seen = ", ".join(map(repr, text[present].unique()[:6]))
            raise ConfigError(
                f"target '{column}': expected some rows equal to --positive {positive!r}, got only {seen}"
            )
        return y.astype(np.int64), present
    lowered = text.str.lower()
    y = lowered.isin(_TRUE).to_numpy(dtype=bool)
    known = (lowered.isin(_TRUE) | lowered.isin(_FALSE)).fillna(False).to_numpy(dtype=bool)
    odd = present & ~known
    if odd.any():
        seen = ", ".join(map(repr, text[odd].unique()[:6]))
        raise ConfigError(
            f"target '{column}': expected 1/0 (default/not), got {seen}; "
            "pass --positive VALUE to say which value means default"
        )
    if present.any() and len(np.unique(y[present])) < 2:
        raise ConfigError(f"target '{column}': expected both outcomes among the rows, got only one")
    return y.astype(np.int64), present


def row_hashes(X: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of each row's values and outcome (1 = default): how a bundle records its random
    holdout rows, so that the same table, read again, shows which rows they were."""
    values = pd.util.hash_pandas_object(X.reset_index(drop=True), index=False).to_numpy(dtype=np.uint64)
    outcome = np.asarray(y, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return np.asarray(values ^ outcome, dtype=np.uint64)


def column_list(columns: Any, wanted: list[str]) -> str:
    """A table's columns for an error message — all of them (the first 60, then how many) — and the closest
    names to what was asked for."""
    names = [str(c) for c in columns]
    shown = ", ".join(names[:60]) + (f" … ({len(names)} in all)" if len(names) > 60 else "")
    close = [m for w in wanted for m in difflib.get_close_matches(str(w), names, n=2, cutoff=0.6)]
    if not close:  # a difference of case only is the commonest slip
        close = [n for w in wanted for n in names if n.lower() == str(w).lower()]
    hint = f"; did you mean {' or '.join(repr(c) for c in dict.fromkeys(close))}?" if close else ""
    return f"{shown}{hint} (names are case-sensitive)"


def prepare(frame: pd.DataFrame, config: TrainConfig, domain: Domain | None = None) -> Prepared:
    """``frame`` as the trainer's rows; ``domain`` (when the caller knows the table's family) sets the group,
    time and outcome-window columns left unset in ``config``, the default monotone directions and the key
    columns that are never features."""
    missing = [
        c for c in (config.target, config.group_col, config.time_col, *config.drop) if c and c not in frame.columns
    ]
    if missing:
        flags = {config.target: "--target", config.group_col: "--group-col", config.time_col: "--time-col"}
        named = ", ".join(f"{c} ({flags.get(c, '--drop')})" for c in missing)
        raise ConfigError(f"{_source(frame)}expected column(s) {named} in the table, got "
                          f"{column_list(frame.columns, missing)}")  # fmt: skip
    if config.target in config.drop:
        raise ConfigError(f"--drop: expected columns other than the target, got the target '{config.target}'")
    if config.monotone:
        _check_monotone(frame, config, domain)
    if domain is not None:
        # the domain's directions, with those given on the command line in their place
        monotone = dict(domain.monotone) | dict(config.monotone or {})
        config = replace(
            config,
            group_col=config.group_col or _present(domain.group_col, frame),
            time_col=config.time_col or _present(domain.time_col, frame),
            monotone=monotone,
        )
    y, present = parse_target(frame[config.target], config.positive, config.target)
    rows = frame[present]
    dropped = {config.target, config.group_col, config.time_col, config.rejected_col, *config.drop}
    if domain is not None:
        dropped |= set(domain.keys)
    X = rows[[c for c in rows.columns if c not in dropped]]
    if X.shape[1] == 0:
        raise PymescoreError(
            "expected at least one feature column besides the target, group and time columns; got none"
        )
    groups = rows[config.group_col].astype(str).to_numpy() if config.group_col else np.arange(len(rows)).astype(str)
    times = _times(rows[config.time_col], config.time_col) if config.time_col else None
    end_col = _present(domain.label_end_col, rows) if domain is not None and config.time_col else None
    ends = pd.to_datetime(rows[end_col]).to_numpy() if end_col else None
    rejected = ~present & rejected_mask(frame, config.rejected_col)
    rejects = None
    if rejected.any():
        r = frame[rejected]
        rejects = Rejects(
            X=r[list(X.columns)].reset_index(drop=True),
            groups=r[config.group_col].astype(str).to_numpy() if config.group_col else
            np.array([f"rejected-{k}" for k in range(len(r))]),
            times=_times(r[config.time_col], config.time_col) if config.time_col else None,
            label_ends=pd.to_datetime(r[end_col]).to_numpy() if end_col else None,
        )  # fmt: skip
    sequence_cols = tuple(getattr(domain, "sequence_cols", ()))  # optional (``Domain``'s docstring)
    sequences = stack_sequences(rows, sequence_cols) if sequence_cols else None
    return Prepared(X.reset_index(drop=True), y[present], groups, times, int((~present).sum()), domain, config, ends,
                    rejects=rejects, sequences=sequences,
                    sequence_cols=sequence_cols if sequences is not None else ())  # fmt: skip


def rejected_mask(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Rows whose ``column`` says rejected (1, true, yes, si); all False when the table has no such column."""
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    values = frame[column]
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return (pd.to_numeric(values, errors="coerce") == 1).fillna(False).to_numpy(dtype=bool)
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["1", "1.0", "true", "yes", "y", "si", "sí"]).fillna(False).to_numpy(dtype=bool)


def stack_sequences(rows: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray | None:
    """Rows × months × ``columns`` (float32) from columns whose cells are lists of one length; None when the
    table lacks one of them."""
    if not set(columns) <= set(rows.columns) or not len(rows):
        return None
    blocks = [np.stack([np.asarray(cell, dtype=np.float32) for cell in rows[c].tolist()]) for c in columns]
    return np.stack(blocks, axis=2)


def _present(column: str | None, frame: pd.DataFrame) -> str | None:
    return column if column is not None and column in frame.columns else None


def column_types(X: pd.DataFrame, domain: Domain | None, max_categories: int) -> list[ColumnType]:
    """The domain's declared types for the columns it names, inferred types for the others."""
    if domain is None:
        return infer_types(X, max_categories)
    types = []
    for col in X.columns:
        declared = domain.types.get(str(col))
        if declared is None:
            types.extend(infer_types(X[[col]], max_categories))
            continue
        rule, categories = declared
        if categories:
            types.append(ColumnType(str(col), "category", rule, categories=tuple(categories)))
        else:
            types.append(ColumnType(str(col), "numeric", rule))
    return types


def _source(frame: pd.DataFrame) -> str:
    source = frame.attrs.get("source")
    return f"{source}: " if source else ""


def _check_monotone(frame: pd.DataFrame, config: TrainConfig, domain: Domain | None) -> None:
    """``--monotone`` names columns of the table that the model reads as numbers."""
    monotone = config.monotone or {}
    unknown = [c for c in monotone if c not in frame.columns]
    if unknown:
        raise ConfigError(
            f"--monotone: expected columns of the table, got {', '.join(repr(c) for c in unknown)}; "
            "check the spelling (names are case-sensitive)"
        )
    keys = (config.target, config.group_col, config.time_col, *config.drop, *(domain.keys if domain else ()))
    special = [c for c in monotone if c in keys]
    if special:
        raise ConfigError(f"--monotone: expected feature columns, got {', '.join(special)} (target, group, time, "
                          "key or dropped)")  # fmt: skip
    # numbers, or text the typing reads as numbers ('$1,234.00'); a category or a date has no direction
    kinds = {ct.column: ct.kind for c in monotone for ct in column_types(frame[[c]], domain, config.max_categories)}
    text = [c for c in monotone if kinds.get(c) not in ("numeric", "money_text")]
    if text:
        raise ConfigError(
            f"--monotone: expected number columns (a direction needs an order), got {', '.join(text)} (read as "
            f"{', '.join(sorted({str(kinds.get(c)) for c in text}))}); convert them to numbers or leave them out"
        )


def _times(values: pd.Series, column: str) -> np.ndarray:
    """Observation dates of ``--time-col``: dates or date text; a number is refused (is 2019 a year, a day?)."""
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise ConfigError(
            f"--time-col {column}: expected dates (a date column or text such as 2024-06-30), got numbers "
            f"(e.g. {values.dropna().iloc[0] if values.notna().any() else 'none'}); write them as dates"
        )
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = naive_utc(values)
    else:  # text of any dtype (pandas 3 reads CSV text as str): each value in its own format, offsets to UTC
        try:
            parsed = pd.to_datetime(values.astype(object), errors="coerce", format="mixed", utc=True)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"--time-col {column}: expected dates, got values pandas cannot read ({exc})") from exc
        parsed = parsed.dt.tz_localize(None)
    bad = values.notna().to_numpy() & parsed.isna().to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ConfigError(
            f"--time-col {column}: expected dates (such as 2024-06-30), got {values.iloc[k]!r} in row "
            f"{row_number(values.index[k])} "
            f"and {int(bad.sum()) - 1} other row(s); fix those cells or choose another --time-col"
        )
    return parsed.to_numpy()


def row_number(label: object) -> object:
    """A row as the file counts its data rows (1 = the first row after the header), from read_table's index."""
    return int(label) + 1 if isinstance(label, int | np.integer) else label
