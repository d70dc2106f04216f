"""Validate a raw source frame against a table contract, row by row, with a reason for every failure.

Parsing happens first (``_coerce``), then the contract's compiled rules (``_kernels``) run on the typed
columns, so that every failing row of every rule is collected at once: that is what the quarantine needs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pymescore.contracts._coerce import coerce_column
from pymescore.contracts._kernels import Failure, after_parsing, compile_contract
from pymescore.contracts._reference import (
    DOMICILE_CONDITIONS,
    TAXPAYER_STATES,
    canonical_or_given,
    ubigeo_codes,
)
from pymescore.contracts._spec import TableContract
from pymescore.errors import MissingColumnError


@dataclass(frozen=True)
class ValidationResult:
    """Rows that meet the contract (typed) and rows that do not (source values + reasons).

    Both frames are indexed by the source row number. ``rejected`` has the contract's columns as
    source text plus ``reason`` (readable, ``; `` separated) and ``reason_codes`` (``,`` separated).
    ``failures`` is the same as structured records (table, row, column, code, expected, got).
    """

    valid: pd.DataFrame
    rejected: pd.DataFrame
    failures: tuple[Failure, ...] = ()


def typed_arrays(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """A typed frame's columns as the kernels read them: float64 (NaN), datetime64[us] (NaT), object (None)."""
    out: dict[str, np.ndarray] = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            out[str(name)] = values.to_numpy(dtype="datetime64[us]")
        elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            out[str(name)] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[str(name)] = object_array(values)
    return out


def object_array(values: pd.Series) -> np.ndarray:
    """A column as the kernels and builders read text: an object array, None where the cell is missing."""
    return np.asarray(values.astype(object).where(values.notna(), None).to_numpy())


def _canonical_register(values: pd.Series, allowed: tuple[str, ...]) -> pd.Series:
    """SUNAT register texts as their canonical values (unknown texts kept as given, for the rule to refuse)."""
    text = values.astype("string")
    canon = {v: canonical_or_given(v, allowed) for v in text.dropna().unique()}
    return text.map(canon)


def _require_columns(raw: pd.DataFrame, contract: TableContract, source: str, provided: Sequence[str] | None) -> None:
    needed = contract.required_columns if provided is None else (*contract.key, *provided)
    missing = [c for c in dict.fromkeys(needed) if c not in raw.columns]
    if missing:
        got = ", ".join(map(str, raw.columns[:12])) or "no columns"
        raise MissingColumnError(
            f"{source}: table '{contract.name}' needs column(s) {', '.join(missing)}; got {got}. "
            f"Rename the source columns or pass the right --table.",
            missing=missing,
            table=contract.name,
            source=source,
        )


def validate_table(
    raw: pd.DataFrame,
    contract: TableContract,
    *,
    equity_tolerance: float = 0.01,
    source: str = "<frame>",
    provided: Sequence[str] | None = None,
) -> ValidationResult:
    """Parse and check ``raw`` against ``contract``.

    ``raw``'s index is the source row number. ``provided`` names the columns a partial source (such as
    the SUNAT padrón for ``firms``) carries; the others are neither required nor checked. A missing
    required column raises :class:`~pymescore.errors.MissingColumnError`; every other problem is a
    per-row reason.
    """
    _require_columns(raw, contract, source, provided)
    failures: list[Failure] = []
    typed: dict[str, pd.Series] = {}
    checked = []
    for col in contract.columns:
        given = col.name in raw.columns and (provided is None or col.name in provided or col.name in contract.key)
        values = raw[col.name] if given else pd.Series(None, index=raw.index, dtype=object)
        if col.name in ("taxpayer_state", "domicile_condition"):
            allowed = TAXPAYER_STATES if col.name == "taxpayer_state" else DOMICILE_CONDITIONS
            values = _canonical_register(values, allowed)
        typed[col.name] = coerce_column(values, col, failures, contract.name)
        if given:
            checked.append(col.name)
    frame = pd.DataFrame(typed, index=raw.index)
    rows = raw.index.to_numpy()
    arrays = typed_arrays(frame)
    checks = compile_contract(contract, equity_tolerance).check(arrays, rows, frozenset(checked))
    failures = after_parsing(failures, checks)
    if contract.name == "firms":
        codes = ubigeo_codes()
        frame["ubigeo_known"] = pd.array([None if v is None else v in codes for v in arrays["ubigeo"]], dtype="boolean")
    if not failures:  # every row meets the contract (a scoring request, usually): no rejected rows to build
        return ValidationResult(valid=frame, rejected=_no_rejects(contract, raw.index[:0]))
    by_row: dict[int, list[Failure]] = {}
    for f in failures:
        by_row.setdefault(f.row, []).append(f)
    bad = frame.index.isin(list(by_row))
    rejected = pd.DataFrame(
        {c: raw.loc[bad, c] if c in raw.columns else None for c in contract.column_names},
        index=raw.index[bad],
    )
    rejected = rejected.astype("string")
    rejected["reason"] = ["; ".join(dict.fromkeys(f.message for f in by_row[int(r)])) for r in rejected.index]
    rejected["reason_codes"] = [",".join(dict.fromkeys(f.code for f in by_row[int(r)])) for r in rejected.index]
    return ValidationResult(valid=frame[~bad], rejected=rejected, failures=tuple(failures))


def _no_rejects(contract: TableContract, index: pd.Index) -> pd.DataFrame:
    """The rejected frame of a table with no rejected rows: its columns as text plus the reasons, no rows."""
    return _empty_rejected(contract.column_names).copy().set_axis(index)


@functools.lru_cache(maxsize=64)
def _empty_rejected(columns: tuple[str, ...]) -> pd.DataFrame:
    rejected = pd.DataFrame({c: pd.Series(dtype="string") for c in columns}, index=pd.RangeIndex(0))
    rejected["reason"] = []  # as the general construction leaves them on no rows
    rejected["reason_codes"] = []
    return rejected
