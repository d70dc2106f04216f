"""Normalise amounts to PEN with the lake's exchange-rate table, keeping the original currency.

Rule (BCRP practice): a USD amount dated ``t`` converts at the last published rate on or before ``t``;
a monthly record is dated at its month's last day. Each converted row records the rate and its date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pymescore.contracts import TableContract


def fx_reference_dates(frame: pd.DataFrame, contract: TableContract) -> pd.Series:
    assert contract.fx_date is not None
    dates = frame[contract.fx_date]
    if contract.column(contract.fx_date).kind == "month":
        dates = dates + pd.offsets.MonthEnd(0)
    return dates.astype("datetime64[us]")


def month_end(dates: np.ndarray) -> np.ndarray:
    """The last day of each date's month (a monthly record's exchange-rate date)."""
    months = np.asarray(dates, dtype="datetime64[M]")
    return np.asarray((months + 1).astype("datetime64[D]") - 1, dtype="datetime64[us]")


def pen_rates(
    usd: np.ndarray, when: np.ndarray, published: np.ndarray | None, values: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(PEN per unit, rate date, missing) of each amount: 1 for PEN; for USD the last rate published on or
    before ``when`` (``published`` sorted), missing when none was."""
    rate = np.ones(len(usd))
    rate_date = np.full(len(usd), np.datetime64("NaT"), dtype="datetime64[us]")
    if not usd.any():
        return rate, rate_date, np.zeros(len(usd), dtype=bool)
    if published is None or values is None or len(published) == 0:
        return rate, rate_date, usd.copy()
    pos = np.searchsorted(published, np.asarray(when, dtype="datetime64[us]"), side="right") - 1
    found = usd & (pos >= 0)
    rate[found] = values[pos[found]]
    rate_date[found] = published[pos[found]]
    return rate, rate_date, usd & (pos < 0)


def to_pen(frame: pd.DataFrame, contract: TableContract, rates: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.Series]:
    """Add ``<amount>_pen``, ``fx_rate`` and ``fx_date`` columns.

    Returns the converted frame and a boolean mask of rows that could not be converted (a USD amount
    dated before the first published rate); the caller quarantines those.
    """
    out = frame.copy()
    usd = (out["currency"] == "USD").to_numpy(dtype=bool, na_value=False)
    published = values = None
    if rates is not None and not rates.empty:
        table = rates.sort_values("date")
        published = table["date"].astype("datetime64[us]").to_numpy()
        values = table["pen_per_usd"].to_numpy(dtype=np.float64)
    when = fx_reference_dates(out, contract).to_numpy() if usd.any() else np.zeros(len(out), dtype="datetime64[us]")
    rate, rate_date, missing = pen_rates(usd, when, published, values)
    for col in contract.amounts:
        out[f"{col}_pen"] = out[col].to_numpy() * rate
    out["fx_rate"] = rate
    out["fx_date"] = rate_date
    return out, pd.Series(missing, index=out.index)
