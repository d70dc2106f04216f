"""Typing of generic tables, decided on the training rows and recorded in the bundle.

Rules, in order, for each column: booleans and numbers are numeric; datetimes become date parts (year,
month, days since 1970); text that parses as numbers for ≥ 95% of its values (``'$60,000.00 '``,
``'12%'``, ``'1,234'``) becomes numeric; text that parses as dates with one format for ≥ 95% becomes date
parts; other text with at most ``max_categories`` distinct values becomes a category; the rest is
target-encoded inside the training folds. On SME snapshots the feature registry decides instead.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

_MONEY = re.compile(r"^\s*[-+]?\s*(?:S/\.?|US\$|\$)?\s*[-+]?[\d,]*\.?\d+\s*%?\s*$")
_DATE_FORMATS = ("%Y-%m-%d", "%d-%b-%y", "%d-%b-%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y%m%d", "%Y-%m-%d %H:%M:%S")
_SHARE = 0.95


@dataclass(frozen=True)
class ColumnType:
    """How one source column enters the model: ``numeric``, ``money_text``, ``date``, ``date_text``,
    ``category`` or ``target_encoded``; ``fmt`` is the date format of ``date_text``."""

    column: str
    kind: str
    rule: str
    fmt: str | None = None
    categories: tuple[str, ...] = ()

    def outputs(self) -> list[str]:
        if self.kind in ("date", "date_text"):
            return [f"{self.column}__year", f"{self.column}__month", f"{self.column}__days"]
        return [self.column]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@functools.lru_cache(maxsize=512)
def _category_dtype(categories: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(categories))


@functools.lru_cache(maxsize=512)
def _category_position(categories: tuple[str, ...]) -> dict[str, int]:
    return {c: i for i, c in enumerate(categories)}


def _text(values: pd.Series) -> pd.Series:
    out = values.astype("string").str.strip()
    return out.mask(out == "")


#: a comma is a thousands separator only between groups of three digits: '12,5' (a decimal comma) is not 125
_GROUPED = r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"


def parse_money(text: pd.Series) -> pd.Series:
    """Numbers from text such as '$60,000.00 ', 'S/ 1,200', '12%' (NaN where it does not parse, and where
    commas are not thousands separators: '12,5' is a decimal comma, not 125)."""
    cleaned = text.str.replace(r"S/\.?|US\$|\$|%|\s", "", regex=True)
    commas = cleaned.str.contains(",", regex=False).fillna(False).astype(bool)
    grouped = cleaned.str.fullmatch(_GROUPED).fillna(False).astype(bool)
    cleaned = cleaned.where(~commas | grouped).str.replace(",", "", regex=False)
    return pd.to_numeric(cleaned.astype(object), errors="coerce").astype("float64")


def _infer(name: str, values: pd.Series, max_categories: int) -> ColumnType:
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return ColumnType(name, "numeric", "numeric dtype")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return ColumnType(name, "date", "datetime dtype: year, month, days since 1970")
    text = _text(values)
    present = text.dropna()
    if present.empty:
        return ColumnType(name, "numeric", "empty column (all missing)")
    sample = present.sample(min(len(present), 20_000), random_state=0) if len(present) > 20_000 else present
    if sample.str.match(_MONEY.pattern).mean() >= _SHARE and parse_money(sample).notna().mean() >= _SHARE:
        return ColumnType(name, "money_text", "numeric-looking text (currency, thousands separators, %) parsed")
    for fmt in _DATE_FORMATS:
        if pd.to_datetime(sample.astype(object), format=fmt, errors="coerce").notna().mean() >= _SHARE:
            return ColumnType(name, "date_text", f"dates as text ({fmt}): year, month, days since 1970", fmt=fmt)
    counts = present.value_counts()
    if len(counts) <= max_categories:
        cats = tuple(sorted(str(c) for c in counts.index))
        return ColumnType(name, "category", f"text with {len(counts)} values: native categories", categories=cats)
    return ColumnType(name, "target_encoded", f"text with {len(counts)} values: target-encoded inside folds")


def infer_types(frame: pd.DataFrame, max_categories: int = 50) -> list[ColumnType]:
    """The typing decision of every column of ``frame`` (pass it without target, group, time columns)."""
    return [_infer(str(c), frame[c], max_categories) for c in frame.columns]


def _date_parts(dates: pd.Series) -> dict[str, np.ndarray]:
    values = dates.to_numpy(dtype="datetime64[ns]")
    missing = np.isnat(values)
    years = values.astype("datetime64[Y]").astype(np.int64) + 1970
    months = values.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = values.astype("datetime64[D]").astype(np.int64)
    out = {"year": years.astype(np.float64), "month": months.astype(np.float64), "days": days.astype(np.float64)}
    for arr in out.values():
        arr[missing] = np.nan
    return out


def apply_type(values: pd.Series, ct: ColumnType) -> dict[str, object]:
    """The model columns of one source column (target-encoded columns are returned as text)."""
    if ct.kind == "numeric":
        if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            return {ct.column: values.to_numpy(dtype=np.float64, na_value=np.nan)}
        return {ct.column: parse_money(_text(values)).to_numpy()}
    if ct.kind == "money_text":
        return {ct.column: parse_money(_text(values)).to_numpy()}
    if ct.kind in ("date", "date_text"):
        parts = _date_parts(pd.Series(_read_dates(values, ct)))
        return {f"{ct.column}__{k}": v for k, v in parts.items()}
    if ct.kind == "category":
        dtype = _category_dtype(tuple(ct.categories))
        values = _codes_as_text(values, tuple(ct.categories))
        if isinstance(values.dtype, pd.CategoricalDtype):  # recode by category (cheap on a few rows)
            position = _category_position(tuple(ct.categories))
            remap = np.array([position.get(str(c).strip(), -1) for c in values.cat.categories] + [-1], dtype=np.int64)
            return {ct.column: pd.Categorical.from_codes(remap[values.cat.codes.to_numpy()], dtype=dtype)}
        text = _text(values).astype(object)
        return {ct.column: pd.Categorical(text.where(text.isin(ct.categories)), dtype=dtype)}
    return {ct.column: _text(values).astype(object).to_numpy()}


@functools.lru_cache(maxsize=512)
def _code_width(categories: tuple[str, ...]) -> int | None:
    """The width of categories that are all digit codes of one width ("01".."25"), else None."""
    widths = {len(c) for c in categories}
    return widths.pop() if len(widths) == 1 and all(c.isascii() and c.isdigit() for c in categories) else None


def _codes_as_text(values: pd.Series, categories: tuple[str, ...]) -> pd.Series:
    """Numbers in a category column as the labels they stand for: a CSV reader turns the code "08" into the
    number 8 (and 8.0 once a cell is empty), which would otherwise be scored as an unseen category."""
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return values
    return pd.Series([code_label(v, categories) for v in values.to_numpy(dtype=np.float64, na_value=np.nan)],
                     index=values.index, dtype=object)  # fmt: skip


def code_label(value: float, categories: tuple[str, ...]) -> str | None:
    """The category label a number stands for: 8 → "08" among two-digit codes, 15.0 → "15"; None if NaN."""
    if value != value:
        return None
    if not float(value).is_integer():
        return str(value)
    return str(int(value)).zfill(_code_width(categories) or 0)


def unreadable(values: pd.Series, ct: ColumnType) -> np.ndarray:
    """Cells holding a value this column's type cannot read, which the model would score as missing: text
    in a number column, a date that does not parse, an infinite number. (An unseen category is not one: a
    category the training rows never showed is scored as missing by design.)"""
    none = np.zeros(len(values), dtype=bool)
    if ct.kind in ("numeric", "money_text"):
        if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            inf: np.ndarray = np.isinf(numbers)
            return inf
        text = _text(values)
        parsed = parse_money(text).to_numpy(dtype=np.float64)
        bad: np.ndarray = text.notna().to_numpy(dtype=bool) & ~np.isfinite(parsed)
        return bad
    if ct.kind in ("date", "date_text"):
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            return none
        return _text(values).notna().to_numpy() & pd.isna(_read_dates(values, ct)).to_numpy()
    return none


def naive_utc(values: pd.Series) -> pd.Series:
    """A datetime column without its time zone, as UTC wall time (a naive one as it is)."""
    return values.dt.tz_convert(None) if getattr(values.dt, "tz", None) is not None else values


def _read_dates(values: pd.Series, ct: ColumnType) -> pd.Series:
    """A date column's dates as the model reads them: a datetime column as is (also where training read
    text), text in the format the typing recorded (NaT where it does not parse)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return naive_utc(values)
    dates: pd.Series = pd.to_datetime(_text(values).astype(object), format=ct.fmt, errors="coerce")
    return dates
