"""Validate a raw source frame against a table contract, row by row, with a reason for every failure.

Parsing happens first (``_coerce``), then the pandera schema built from the contract runs lazily so that
every failing row of every check is collected at once: that is what the quarantine needs.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from stdnum.pe import ruc as stdnum_ruc

from pymescore.contracts import _coerce
from pymescore.contracts._coerce import Reasons, coerce_column
from pymescore.contracts._reference import (
    DEPARTMENTS,
    DOMICILE_CONDITIONS,
    TAXPAYER_STATES,
    canonical_register_value,
    ciiu_classes,
    ubigeo_codes,
)
from pymescore.contracts._spec import Column, TableContract
from pymescore.errors import MissingColumnError

_EARLIEST = pd.Timestamp("1950-01-01")
#: frames up to this size run the rules directly (a scoring request); larger ones through pandera
DIRECT_MAX_ROWS = 2_000


@dataclass(frozen=True)
class ValidationResult:
    """Rows that meet the contract (typed) and rows that do not (source values + reasons).

    Both frames are indexed by the source row number. ``rejected`` has the contract's columns as
    source text plus ``reason`` (readable, ``; `` separated) and ``reason_codes`` (``,`` separated).
    """

    valid: pd.DataFrame
    rejected: pd.DataFrame


@functools.lru_cache(maxsize=4096)
def _ruc_ok(value: str) -> bool:
    return bool(stdnum_ruc.is_valid(value))


def _ruc_valid(values: pd.Series) -> pd.Series:
    """Vectorised python-stdnum check: each distinct RUC is checked once (a few rows: value by value, a
    mapping through pandas costs more than the check)."""
    if len(values) <= _coerce.SMALL:
        return pd.Series([True if pd.isna(v) else _ruc_ok(v) for v in values.tolist()], index=values.index, dtype=bool)
    distinct = values.dropna().unique()
    ok = pd.Series([bool(stdnum_ruc.is_valid(v)) for v in distinct], index=distinct, dtype=bool)
    return values.map(ok).fillna(True).astype(bool)


#: a rule: a vectorised test (True = passes) and its error "CODE|message"; run by pandera or directly
Rule = tuple[Callable[..., Any], str]


def _member(values: pd.Series, allowed: Collection[Any]) -> pd.Series:
    """``values.isin(allowed)``; on a few rows a set lookup per value (Arrow's isin converts ``allowed``
    on every call, which costs more than checking a scoring request's handful of values)."""
    if len(values) > 500:
        return values.isin(allowed)
    lookup = allowed if isinstance(allowed, (set, frozenset)) else frozenset(allowed)
    return pd.Series([v in lookup for v in values], index=values.index, dtype=bool)


def _check(fn: Callable[..., Any], code: str, message: str) -> Rule:
    return fn, f"{code}|{message}"


def _column_checks(col: Column) -> list[Rule]:
    checks: list[Rule] = []
    if col.ge is not None:
        code = "AMOUNT_NEGATIVE" if col.ge == 0 else "OUT_OF_RANGE"
        checks.append(_check(lambda s, v=col.ge: s >= v, code, f"{col.name}: expected >= {col.ge:g}"))
    if col.le is not None:
        checks.append(_check(lambda s, v=col.le: s <= v, "OUT_OF_RANGE", f"{col.name}: expected <= {col.le:g}"))
    if col.isin is not None:
        allowed = ", ".join(col.isin)
        checks.append(
            _check(
                lambda s, a=frozenset(col.isin): _member(s, a),
                "VALUE_UNKNOWN",
                f"{col.name}: expected one of {allowed}",
            )
        )
    if col.name == "ruc":
        checks.append(_check(_ruc_valid, "RUC_INVALID", "ruc: expected a valid RUC (stdnum.pe.ruc)"))
    if col.name == "ciiu":
        classes = ciiu_classes()
        checks.append(_check(lambda s: _member(s, classes), "CIIU_UNKNOWN", "ciiu: expected a CIIU Rev.4 class"))
    if col.name == "ubigeo":
        checks.append(
            _check(
                lambda s: _member(s.str[:2], DEPARTMENTS),
                "UBIGEO_INVALID",
                "ubigeo: expected an INEI code whose department is 01-25",
            )
        )
    if col.name == "taxpayer_state":
        checks.append(
            _check(lambda s: _member(s, TAXPAYER_STATES), "VALUE_UNKNOWN", "taxpayer_state: expected a SUNAT state")
        )
    if col.name == "domicile_condition":
        checks.append(
            _check(
                lambda s: _member(s, DOMICILE_CONDITIONS),
                "VALUE_UNKNOWN",
                "domicile_condition: expected a SUNAT domicile condition",
            )
        )
    if col.kind in ("date", "month"):
        checks.append(_check(lambda s: s >= _EARLIEST, "DATE_RANGE", f"{col.name}: expected 1950 or later"))
    if col.name in ("start_date", "paid_date"):
        today = pd.Timestamp(dt.date.today())
        checks.append(_check(lambda s: s <= today, "DATE_FUTURE", f"{col.name}: expected a date not in the future"))
    return checks


def _table_checks(contract: TableContract, equity_tolerance: float) -> list[Rule]:
    if contract.name == "financial_statements":

        def balanced(d: pd.DataFrame) -> pd.Series:
            scale = d[["total_assets", "total_liabilities"]].abs().max(axis=1).clip(lower=1.0)
            gap = (d["equity"] - (d["total_assets"] - d["total_liabilities"])).abs()
            return (gap <= equity_tolerance * scale) | gap.isna()

        return [
            _check(
                balanced,
                "EQUITY_MISMATCH",
                f"equity: expected total_assets - total_liabilities within {equity_tolerance:.1%}",
            )
        ]
    if contract.name == "payments":

        def paid_after_start(d: pd.DataFrame) -> pd.Series:
            return ~(d["paid_date"] < d["disbursement_date"]).fillna(False)

        def due_after_start(d: pd.DataFrame) -> pd.Series:
            return ~(d["due_date"] <= d["disbursement_date"]).fillna(False)

        def paid_has_date(d: pd.DataFrame) -> pd.Series:
            return ~((d["amount_paid"] > 0).fillna(False) & d["paid_date"].isna())

        return [
            _check(paid_after_start, "PAID_BEFORE_START", "paid_date: expected on or after disbursement_date"),
            _check(due_after_start, "DUE_BEFORE_START", "due_date: expected after disbursement_date"),
            _check(paid_has_date, "PAID_WITHOUT_DATE", "paid_date: expected a date when amount_paid > 0"),
        ]
    return []


def _pandera(rules: list[Rule]) -> list[pa.Check]:
    return [pa.Check(fn, error=error, ignore_na=True) for fn, error in rules]


def _schema(contract: TableContract, equity_tolerance: float) -> pa.DataFrameSchema:
    columns = {c.name: pa.Column(None, checks=_pandera(_column_checks(c)), nullable=True) for c in contract.columns}
    return pa.DataFrameSchema(columns, checks=_pandera(_table_checks(contract, equity_tolerance)))


def _add(reasons: Reasons, row: int, message: str) -> None:
    messages = reasons.setdefault(row, [])
    if message not in messages:
        messages.append(message)


def _check_with_pandera(
    frame: pd.DataFrame, contract: TableContract, equity_tolerance: float, reasons: Reasons
) -> None:
    try:
        _schema(contract, equity_tolerance).validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        for r, check, context, got in zip(
            cases["index"].astype(int),
            cases["check"].astype(str),
            cases["schema_context"],
            cases["failure_case"],
            strict=True,
        ):
            _add(reasons, int(r), f"{check}, got {got!r}" if context == "Column" else check)


def _check_directly(frame: pd.DataFrame, contract: TableContract, equity_tolerance: float, reasons: Reasons) -> None:
    """The same rules as :func:`_check_with_pandera`, without its per-call overhead (for a few rows)."""
    for col in contract.columns:
        values = frame[col.name]
        missing = values.isna().to_numpy()
        if missing.all():
            continue
        present = values[~missing] if missing.any() else values
        for fn, error in _column_checks(col):
            ok = np.asarray(fn(present), dtype=bool)
            if ok.all():
                continue
            for r, got in present[~ok].items():
                _add(reasons, int(r), f"{error}, got {_plain(got)!r}")  # type: ignore[call-overload]
    for fn, error in _table_checks(contract, equity_tolerance):
        ok = np.asarray(fn(frame), dtype=bool)
        if not ok.all():
            for r in frame.index[~ok]:
                _add(reasons, int(r), error)


def _plain(value: Any) -> Any:
    """A failing value as pandera reports it (Python scalars, Timestamps as they are)."""
    return value.item() if isinstance(value, np.generic) else value


def _canonical_register(values: pd.Series, allowed: tuple[str, ...]) -> pd.Series:
    """SUNAT register texts as their canonical values (unknown texts kept as given, for the rule to refuse)."""
    text = values.astype("string")
    if len(text) <= _coerce.SMALL:
        present: list[Any] = text.tolist()
        if any(v is not pd.NA for v in present):
            # value by value: what ``map`` gives (the "str" dtype; an all-missing column keeps the general path's)
            mapped = [None if v is pd.NA else (canonical_register_value(v, allowed) or v) for v in present]
            return pd.Series(mapped, index=text.index, dtype="str")
    canon = {v: canonical_register_value(v, allowed) or v for v in text.dropna().unique()}
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
    reasons: Reasons = {}
    typed: dict[str, pd.Series] = {}
    for col in contract.columns:
        given = col.name in raw.columns and (provided is None or col.name in provided or col.name in contract.key)
        values = raw[col.name] if given else pd.Series(None, index=raw.index, dtype=object)
        if col.name in ("taxpayer_state", "domicile_condition"):
            allowed = TAXPAYER_STATES if col.name == "taxpayer_state" else DOMICILE_CONDITIONS
            values = _canonical_register(values, allowed)
        series, present = coerce_column(values, col, reasons)
        if not col.nullable and given:
            for r in raw.index[~present.to_numpy()]:
                reasons.setdefault(int(r), []).append(f"VALUE_MISSING|{col.name}: expected a value, got an empty cell")
        typed[col.name] = series
    frame = pd.DataFrame(typed, index=raw.index)
    if len(frame) <= DIRECT_MAX_ROWS:
        _check_directly(frame, contract, equity_tolerance, reasons)
    else:
        _check_with_pandera(frame, contract, equity_tolerance, reasons)
    if contract.name == "firms":
        known = _member(frame["ubigeo"], ubigeo_codes())
        frame["ubigeo_known"] = known.where(frame["ubigeo"].notna()).astype("boolean")
    if not reasons:  # every row meets the contract (a scoring request, usually): no rejected rows to build
        return ValidationResult(valid=frame, rejected=_no_rejects(contract, raw.index[:0]))
    bad = frame.index.isin(list(reasons))
    rejected = pd.DataFrame(
        {c: raw.loc[bad, c] if c in raw.columns else None for c in contract.column_names},
        index=raw.index[bad],
    )
    rejected = rejected.astype("string")
    rejected["reason"] = ["; ".join(m.split("|", 1)[1] for m in reasons[int(r)]) for r in rejected.index]
    rejected["reason_codes"] = [
        ",".join(dict.fromkeys(m.split("|", 1)[0] for m in reasons[int(r)])) for r in rejected.index
    ]
    return ValidationResult(valid=frame[~bad], rejected=rejected)


def _no_rejects(contract: TableContract, index: pd.Index) -> pd.DataFrame:
    """The rejected frame of a table with no rejected rows: its columns as text plus the reasons, no rows."""
    return _empty_rejected(contract.column_names).copy().set_axis(index)


@functools.lru_cache(maxsize=64)
def _empty_rejected(columns: tuple[str, ...]) -> pd.DataFrame:
    rejected = pd.DataFrame({c: pd.Series(dtype="string") for c in columns}, index=pd.RangeIndex(0))
    rejected["reason"] = []  # as the general construction leaves them on no rows
    rejected["reason_codes"] = []
    return rejected
