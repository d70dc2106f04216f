"""Parsing raw source columns into the contract's types, one reason per value that does not parse.

Typed sources (Parquet, SQL, Excel numbers and dates) are read as they are; text is parsed in bulk and
only the failing values become :class:`~pymescore.contracts._kernels.Failure` records.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from pymescore.contracts._kernels import Failure
from pymescore.contracts._spec import Column

_THOUSANDS = r"-?\d{1,3}(,\d{3})+(\.\d+)?"
_MONTH_ONLY = r"[0-9]{4}-[0-9]{2}"
_NULL_TEXT = ("", "-", "na", "n/a", "nan", "null", "none", "nat")
_NULL_SET = frozenset(_NULL_TEXT)
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: "２０１…" (full-width) is not a code


def text_cell(value: Any) -> str | None:
    """One source value as stripped text; None for an empty cell or a null word ('n/a', 'null', '-')."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return None if text.lower() in _NULL_SET else text


def code_shape(width: int | None) -> str:
    """What a code column expects, in a failure's words."""
    return f"{width} digits" if width else "digits"


def code_ok(text: str, width: int | None) -> bool:
    """Whether a code's text is ASCII digits (of ``width`` when given)."""
    return _DIGITS.fullmatch(text) is not None and (not width or len(text) == width)


_ISO_SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ].*)?"


def _as_text(values: pd.Series) -> pd.Series:
    """Source values as stripped text (NA for empty), integral floats without a spurious '.0'."""
    if pd.api.types.is_float_dtype(values.dtype):
        integral = values.notna() & (values == values.round())
        as_int = values.where(integral).astype("Int64").astype("string")
        out = as_int.where(integral, values.astype("string"))
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.dt.strftime("%Y-%m-%d").astype("string")
    else:  # text or any other object: value by value (what pandas' string methods do too), at any size
        return pd.Series([text_cell(v) for v in values.tolist()], index=values.index, dtype="string", name=values.name)
    out = out.str.strip()
    return out.mask(out.str.lower().isin(_NULL_TEXT))


def _row(label: object) -> int:
    """A frame label as the source row number it is."""
    assert isinstance(label, (int, np.integer)), label
    return int(label)


def _explain(failures: list[Failure], values: pd.Series, mask: pd.Series, where: tuple[str, str, str, str]) -> None:
    """A failure (table, column, code, expected) for every row in ``mask``, with its source text."""
    if not mask.any():
        return
    table, column, code, expected = where
    for r, v in _as_text(values[mask]).items():
        failures.append(Failure(table, _row(r), column, code, expected, v))


def _is_number_dtype(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def coerce_column(values: pd.Series, col: Column, failures: list[Failure], table: str = "") -> pd.Series:
    """Parse ``values`` as ``col.kind``; rows whose value does not parse become null, with a failure each."""
    if col.kind in ("float", "int") and _is_number_dtype(values):
        return _numbers(values, values.astype("float64"), col, failures, table)
    if col.kind in ("date", "month") and pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        return _dates(values, parsed, col, failures, table)
    text = _as_text(values)
    present = text.notna()
    if col.kind == "str":
        return text
    if col.kind == "code":
        out = text.str.zfill(col.width) if _is_number_dtype(values) and col.width else text
        bad = present & ~pd.Series([code_ok(v, col.width) for v in out.fillna("").tolist()], index=out.index)
        _explain(failures, out, bad, (table, col.name, "TYPE_CODE", code_shape(col.width)))
        return out.mask(bad)
    if col.kind in ("float", "int"):
        grouped = text.str.fullmatch(_THOUSANDS).fillna(False).astype(bool)
        cleaned = text.mask(grouped, text.str.replace(",", "", regex=False))
        nums = pd.to_numeric(cleaned.astype(object), errors="coerce").astype("float64")
        _explain(failures, text, present & nums.isna(), (table, col.name, "TYPE_NUMBER", "a number"))
        return _numbers(text, nums, col, failures, table)
    month_only = text.str.fullmatch(_MONTH_ONLY).fillna(False).astype(bool)
    iso = text.mask(month_only, text + "-01")
    # ISO 8601 as the contract writes it (four-digit year, two-digit month and day): pandas would also read
    # "2024-1" or "20240115", which a typo produces as easily as a writer
    shaped = iso.str.fullmatch(_ISO_SHAPE).fillna(False).astype(bool)
    parsed = pd.to_datetime(iso.where(shaped).astype(object), errors="coerce", format="ISO8601")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    want = "an ISO date YYYY-MM-DD" if col.kind == "date" else "a month YYYY-MM or YYYY-MM-01"
    _explain(failures, text, present & parsed.isna(), (table, col.name, "TYPE_DATE", want))
    return _dates(text, parsed, col, failures, table)


def _numbers(source: pd.Series, nums: pd.Series, col: Column, failures: list[Failure], table: str) -> pd.Series:
    if col.kind == "float":
        return nums
    frac = nums.notna() & (nums != np.floor(nums.fillna(0)))
    _explain(failures, source, frac, (table, col.name, "TYPE_INT", "a whole number"))
    return nums.where(~frac).astype("Int64")


def _dates(source: pd.Series, parsed: pd.Series, col: Column, failures: list[Failure], table: str) -> pd.Series:
    not_midnight = parsed.notna() & (parsed != parsed.dt.normalize())
    _explain(failures, source, not_midnight, (table, col.name, "TYPE_DATE", "a date without a time"))
    parsed = parsed.where(~not_midnight)
    if col.kind == "month":
        mid = parsed.notna() & (parsed.dt.day != 1)
        _explain(failures, source, mid, (table, col.name, "TYPE_MONTH", "the first day of a month"))
        parsed = parsed.where(~mid)
    return parsed.astype("datetime64[us]")
