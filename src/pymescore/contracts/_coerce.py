"""Parsing raw source columns into the contract's types, one reason per value that does not parse.

Typed sources (Parquet, SQL, Excel numbers and dates) take a fast path; text is parsed in bulk and only
the failing values are turned into messages.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pymescore.contracts._spec import Column

_THOUSANDS = r"-?\d{1,3}(,\d{3})+(\.\d+)?"
_MONTH_ONLY = r"[0-9]{4}-[0-9]{2}"
_NULL_TEXT = ("", "-", "na", "n/a", "nan", "null", "none", "nat")
_NULL_SET = frozenset(_NULL_TEXT)

Reasons = dict[int, list[str]]

#: below this many rows, text columns are handled value by value in Python (a scoring request's history):
#: pandas' string operations cost tens of microseconds a call whatever the length
SMALL = 500
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: "２０１…" (full-width) is not a RUC
# ASCII digits only: \d matches any Unicode digit, which numpy does not parse (the general path reports those)
_PLAIN_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])(?:-01)?", re.ASCII)
_ISO_SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ].*)?"
_PLAIN_DATE = re.compile(r"(\d{4})-\d{2}-\d{2}", re.ASCII)


def _small_text(values: pd.Series) -> pd.Series | None:
    """:func:`_as_text` of a small column of Python strings (None/NaN as missing), value by value; None when
    a value is anything else (the general path then decides)."""
    out: list[str | None] = []
    for v in values:
        if isinstance(v, str):
            t = v.strip()
            out.append(None if t.lower() in _NULL_SET else t)
        elif v is None or (isinstance(v, float) and v != v):
            out.append(None)
        else:
            return None
    return pd.Series(out, index=values.index, dtype="string", name=values.name)


def _as_text(values: pd.Series) -> pd.Series:
    """Source values as stripped text (NA for empty), integral floats without a spurious '.0'."""
    if pd.api.types.is_float_dtype(values.dtype):
        integral = values.notna() & (values == values.round())
        as_int = values.where(integral).astype("Int64").astype("string")
        out = as_int.where(integral, values.astype("string"))
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.dt.strftime("%Y-%m-%d").astype("string")
    elif isinstance(values.dtype, pd.StringDtype):
        out = values
    else:
        small = _small_text(values) if values.dtype == object and len(values) <= SMALL else None
        if small is not None:
            return small
        out = values.astype("string")
    out = out.str.strip()
    lowered = out.str.lower()
    if len(out) > 500:
        return out.mask(lowered.isin(_NULL_TEXT))
    return out.mask(np.fromiter((v in _NULL_SET for v in lowered.fillna("")), dtype=bool, count=len(out)))


def _row(label: object) -> int:
    """A frame label as the source row number it is."""
    assert isinstance(label, (int, np.integer)), label
    return int(label)


def _explain(reasons: Reasons, values: pd.Series, mask: pd.Series, template: str) -> None:
    """Add ``template.format(got=<source text>)`` to every row in ``mask``."""
    if not mask.any():
        return
    for r, v in _as_text(values[mask]).items():
        reasons.setdefault(_row(r), []).append(template.format(got=repr(v)))


def _is_number_dtype(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def coerce_column(values: pd.Series, col: Column, reasons: Reasons) -> tuple[pd.Series, pd.Series]:
    """Parse ``values`` as ``col.kind``: (typed values, mask of rows where the source had a value).

    Rows whose value does not parse become null and get a reason in ``reasons``.
    """
    if col.kind in ("float", "int") and _is_number_dtype(values):
        nums = values.astype("float64")
        return _numbers(values, nums, col, reasons), nums.notna()
    if col.kind in ("date", "month") and pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        return _dates(values, parsed, col, reasons), parsed.notna()
    text = _as_text(values)
    present = text.notna()
    if col.kind == "str":
        return text, present
    if col.kind == "code" and len(text) <= SMALL and not _is_number_dtype(values) and _plain_codes(text, col.width):
        return text, present  # every present value already digits of the right width: nothing to pad or report
    if col.kind == "code":
        out = text.str.zfill(col.width) if _is_number_dtype(values) and col.width else text
        bad = present & ~out.fillna("").str.fullmatch(r"[0-9]+")
        if col.width:
            bad |= present & (out.fillna("").str.len() != col.width)
        shape = f"{col.width} digits" if col.width else "digits"
        _explain(reasons, out, bad, f"TYPE_CODE|{col.name}: expected {shape}, got {{got}}")
        return out.mask(bad), present
    if col.kind in ("float", "int"):
        grouped = text.str.fullmatch(_THOUSANDS).fillna(False).astype(bool)
        cleaned = text.mask(grouped, text.str.replace(",", "", regex=False))
        nums = pd.to_numeric(cleaned.astype(object), errors="coerce").astype("float64")
        _explain(reasons, text, present & nums.isna(), f"TYPE_NUMBER|{col.name}: expected a number, got {{got}}")
        return _numbers(text, nums, col, reasons), present
    if len(text) <= SMALL:
        plain = _plain_dates(text, month=col.kind == "month")
        if plain is not None:
            return plain, present
    month_only = text.str.fullmatch(_MONTH_ONLY).fillna(False).astype(bool)
    iso = text.mask(month_only, text + "-01")
    # ISO 8601 as the contract writes it (four-digit year, two-digit month and day): pandas would also read
    # "2024-1" or "20240115", which a typo produces as easily as a writer
    shaped = iso.str.fullmatch(_ISO_SHAPE).fillna(False).astype(bool)
    parsed = pd.to_datetime(iso.where(shaped).astype(object), errors="coerce", format="ISO8601")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    want = "an ISO date YYYY-MM-DD" if col.kind == "date" else "a month YYYY-MM or YYYY-MM-01"
    _explain(reasons, text, present & parsed.isna(), f"TYPE_DATE|{col.name}: expected {want}, got {{got}}")
    return _dates(text, parsed, col, reasons), present


def _numbers(source: pd.Series, nums: pd.Series, col: Column, reasons: Reasons) -> pd.Series:
    if col.kind == "float":
        return nums
    frac = nums.notna() & (nums != np.floor(nums.fillna(0)))
    _explain(reasons, source, frac, f"TYPE_INT|{col.name}: expected a whole number, got {{got}}")
    return nums.where(~frac).astype("Int64")


def _dates(source: pd.Series, parsed: pd.Series, col: Column, reasons: Reasons) -> pd.Series:
    not_midnight = parsed.notna() & (parsed != parsed.dt.normalize())
    _explain(reasons, source, not_midnight, f"TYPE_DATE|{col.name}: expected a date without a time, got {{got}}")
    parsed = parsed.where(~not_midnight)
    if col.kind == "month":
        mid = parsed.notna() & (parsed.dt.day != 1)
        _explain(reasons, source, mid, f"TYPE_MONTH|{col.name}: expected the first day of a month, got {{got}}")
        parsed = parsed.where(~mid)
    return parsed.astype("datetime64[us]")


def _plain_codes(text: pd.Series, width: int | None) -> bool:
    """Whether every present value of a small text column is digits (of ``width`` when given)."""
    for v in text:
        if not isinstance(v, str):
            if pd.isna(v):
                continue
            return False
        if not _DIGITS.fullmatch(v) or (width and len(v) != width):
            return False
    return True


def _plain_dates(text: pd.Series, month: bool) -> pd.Series | None:
    """A small column whose present values are all plain dates as such: valid ``YYYY-MM-DD`` dates, or with
    ``month`` ``YYYY-MM`` / ``YYYY-MM-01`` (months 01-12) as month starts; years 1678-2261 as pandas holds them.
    None when any value is otherwise (the general path parses or reports it)."""
    pattern = _PLAIN_MONTH if month else _PLAIN_DATE
    out = np.empty(len(text), dtype="datetime64[us]")
    for i, v in enumerate(text):
        if not isinstance(v, str):
            if not pd.isna(v):
                return None
            out[i] = np.datetime64("NaT")
            continue
        m = pattern.fullmatch(v)
        if m is None or not 1678 <= int(m.group(1)) <= 2261:
            return None
        try:
            out[i] = np.datetime64(f"{m.group(1)}-{m.group(2)}-01" if month else v, "us")
        except ValueError:  # 2024-02-30 and the like
            return None
    return pd.Series(out, index=text.index, name=text.name)
