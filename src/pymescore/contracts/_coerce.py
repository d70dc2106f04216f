"""Parsing raw source columns into the contract's types, one reason per value that does not parse."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pymescore.contracts._spec import Column

_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
_MONTH_ONLY = re.compile(r"\d{4}-\d{2}")
_NULL_TEXT = frozenset({"", "-", "na", "n/a", "nan", "null", "none", "nat"})

Reasons = dict[int, list[str]]


def _as_text(values: pd.Series) -> pd.Series:
    """Source values as stripped text (NA for empty), integral floats without a spurious '.0'."""
    if pd.api.types.is_float_dtype(values.dtype):
        integral = values.notna() & (values == values.round())
        as_int = values.where(integral).astype("Int64").astype("string")
        out = as_int.where(integral, values.astype("string"))
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.dt.strftime("%Y-%m-%d").astype("string")
    else:
        out = values.astype("string")
    out = out.str.strip()
    return out.mask(out.str.lower().isin(_NULL_TEXT))


def _row(label: object) -> int:
    """A frame label as the source row number it is."""
    assert isinstance(label, (int, np.integer)), label
    return int(label)


def _note(reasons: Reasons, rows: pd.Index, message: str) -> None:
    for r in rows:
        reasons.setdefault(_row(r), []).append(message)


def coerce_column(values: pd.Series, col: Column, reasons: Reasons) -> tuple[pd.Series, pd.Series]:
    """Parse ``values`` as ``col.kind``: (typed values, mask of rows where the source had a value).

    Rows whose value does not parse become null and get a reason in ``reasons``.
    """
    text = _as_text(values)
    present = text.notna()
    return _parse(values, text, present, col, reasons), present


def _parse(
    values: pd.Series, text: pd.Series, present: pd.Series, col: Column, reasons: Reasons
) -> pd.Series:
    if col.kind == "str":
        return text.astype("string")
    if col.kind == "code":
        numeric_source = pd.api.types.is_numeric_dtype(values.dtype)
        out = text.str.zfill(col.width) if numeric_source and col.width else text
        bad = present & ~out.fillna("").str.fullmatch(r"\d+")
        if col.width:
            bad |= present & (out.fillna("").str.len() != col.width)
        shape = f"{col.width} digits" if col.width else "digits"
        for r, v in out[bad].items():
            reasons.setdefault(_row(r), []).append(f"TYPE_CODE|{col.name}: expected {shape}, got {v!r}")
        return out.mask(bad)
    if col.kind in ("float", "int"):
        grouped = text.str.fullmatch(_THOUSANDS.pattern).fillna(False)
        cleaned = text.mask(grouped, text.str.replace(",", "", regex=False))
        nums = pd.to_numeric(cleaned.astype(object), errors="coerce")
        bad = present & nums.isna()
        for r, v in text[bad].items():
            reasons.setdefault(_row(r), []).append(f"TYPE_NUMBER|{col.name}: expected a number, got {v!r}")
        if col.kind == "int":
            frac = nums.notna() & (nums != np.floor(nums.fillna(0)))
            for r, v in text[frac].items():
                reasons.setdefault(_row(r), []).append(
                    f"TYPE_INT|{col.name}: expected a whole number, got {v!r}"
                )
            nums = nums.where(~frac)
            return nums.astype("Int64")
        return nums.astype("float64")
    # date / month
    month_only = text.str.fullmatch(_MONTH_ONLY.pattern).fillna(False)
    iso = text.mask(month_only, text + "-01")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    else:
        parsed = pd.to_datetime(iso.astype(object), errors="coerce", format="ISO8601")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    bad = present & parsed.isna()
    want = "an ISO date YYYY-MM-DD" if col.kind == "date" else "a month YYYY-MM or YYYY-MM-01"
    for r, v in text[bad].items():
        reasons.setdefault(_row(r), []).append(f"TYPE_DATE|{col.name}: expected {want}, got {v!r}")
    not_midnight = parsed.notna() & (parsed != parsed.dt.normalize())
    _note(reasons, text.index[not_midnight], f"TYPE_DATE|{col.name}: expected a date without a time")
    if col.kind == "month":
        mid = parsed.notna() & (parsed.dt.day != 1)
        for r, v in text[mid].items():
            reasons.setdefault(_row(r), []).append(
                f"TYPE_MONTH|{col.name}: expected the first day of a month, got {v!r}"
            )
        parsed = parsed.where(~mid)
    return parsed.where(~not_midnight).astype("datetime64[us]")
