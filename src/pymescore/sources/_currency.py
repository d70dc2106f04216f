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


def to_pen(frame: pd.DataFrame, contract: TableContract, rates: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.Series]:
    """Add ``<amount>_pen``, ``fx_rate`` and ``fx_date`` columns.

    Returns the converted frame and a boolean mask of rows that could not be converted (a USD amount
    dated before the first published rate); the caller quarantines those.
    """
    out = frame.copy()
    usd = (out["currency"] == "USD").to_numpy()
    rate = np.ones(len(out))
    rate_date = pd.Series(pd.NaT, index=out.index, dtype="datetime64[us]")
    missing = pd.Series(False, index=out.index)
    if usd.any():
        if rates is None or rates.empty:
            missing[:] = usd
        else:
            table = rates.sort_values("date")
            published = table["date"].astype("datetime64[us]").to_numpy()
            when = fx_reference_dates(out, contract).to_numpy()
            pos = np.searchsorted(published, when, side="right") - 1
            found = usd & (pos >= 0)
            rate[found] = table["pen_per_usd"].to_numpy()[pos[found]]
            rate_date[found] = published[pos[found]]
            missing[:] = usd & (pos < 0)
    for col in contract.amounts:
        out[f"{col}_pen"] = out[col].to_numpy() * rate
    out["fx_rate"] = rate
    out["fx_date"] = rate_date
    return out, missing
