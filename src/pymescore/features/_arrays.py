"""Numpy building blocks shared by the builders: firm codes, month numbers, grouped reductions.

Every builder works on arrays (``Arrays``: a table's columns by name, with ``entity``, the integer index of
the firm or application each record belongs to), never on a pandas groupby or a RUC lookup, so that one
firm costs microseconds and a million firms cost seconds through the same code.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
#: a table as the builders read it: columns by name (numbers float64, dates datetime64, text object) + entity
Arrays = Mapping[str, np.ndarray]


def month_number(dates: pd.Series | npt.NDArray[np.datetime64]) -> I64:
    """Months since 1970-01 of each date."""
    values = np.asarray(dates, dtype="datetime64[ns]")
    return values.astype("datetime64[M]").astype(np.int64)


def day_number(dates: pd.Series | npt.NDArray[np.datetime64]) -> F64:
    """Days since 1970-01-01 (NaN for NaT)."""
    values = np.asarray(dates, dtype="datetime64[ns]")
    days = values.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    days[np.isnat(values)] = np.nan
    return days


def add_months(dates: npt.NDArray[np.datetime64], months: int) -> npt.NDArray[np.datetime64]:
    """``dates`` plus whole months, the day clipped to the target month's length (as pandas DateOffset)."""
    days = np.asarray(dates, dtype="datetime64[D]")
    month = days.astype("datetime64[M]")
    day = (days - month.astype("datetime64[D]")).astype(np.int64)
    target = month + months
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    out: npt.NDArray[np.datetime64] = target.astype("datetime64[D]") + np.minimum(day, length - 1)
    return out


def entity_codes(universe: npt.ArrayLike, rucs: npt.ArrayLike) -> I64:
    """The entity index of each RUC in ``universe`` (-1 when it is not there): the batch edge's one lookup."""
    index = pd.Index(np.asarray(universe, dtype=object))
    return np.asarray(index.get_indexer(np.asarray(rucs, dtype=object)), dtype=np.int64)


def group_count(codes: I64, n: int) -> F64:
    return np.bincount(codes, minlength=n).astype(np.float64)


def group_max(codes: I64, values: F64, n: int) -> F64:
    """Maximum per group; NaN for a group without values."""
    out = np.full(n, -np.inf)
    np.maximum.at(out, codes, values)
    out[np.isneginf(out)] = np.nan
    return out


def ratio(num: F64, den: F64) -> F64:
    """num / den, NaN where the denominator is not positive, either side is missing, or the quotient is beyond
    float64 (a tiny denominator: 1e13 / 1e-300; never inf).

    >>> ratio(np.array([1.0, 1e13, 1.0]), np.array([4.0, 1e-300, 0.0])).tolist()
    [0.25, nan, nan]
    """
    out = np.full(np.shape(num), np.nan)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    with np.errstate(over="ignore"):
        np.divide(num, den, out=out, where=ok)
    out[np.isinf(out)] = np.nan
    return out


def product(a: F64, b: F64) -> F64:
    """a * b, NaN where it is beyond float64 (never inf)."""
    with np.errstate(over="ignore"):
        out = np.multiply(a, b)
    out[np.isinf(out)] = np.nan
    return out


def row_count(panel: F64) -> F64:
    return np.asarray((~np.isnan(panel)).sum(axis=1), dtype=np.float64)


def row_mean(panel: F64) -> F64:
    valid = ~np.isnan(panel)  # nansum's own steps (zeros for NaN, then a sum), without its call overhead
    return ratio(np.where(valid, panel, 0.0).sum(axis=1), valid.sum(axis=1).astype(np.float64))
