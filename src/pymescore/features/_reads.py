"""Which records' amounts the builders read at an as_of: each history's window, stated once.

- ``monthly_cashflows``: the ``window_months`` months that end with the month before as_of (the panel), or the
  ``history_months`` of a sequence model's histories when longer;
- ``payments``: instalments due in the 12 months before as_of (completion and the USD share of debt);
- ``financial_statements``: each firm's latest and previous statement filed before as_of;
- ``bureau_ratings`` has no amount in a currency.

An amount outside these windows changes no feature (``tests/test_point_in_time.py`` holds the builders to it), so
the service accepts such a record without converting it: a USD amount there needs no exchange rate.
"""

from __future__ import annotations

import numpy as np

from pymescore.features._arrays import Arrays, Bool, add_months, month_number
from pymescore.features._config import FeatureConfig

#: the histories with amounts in a currency (converted to PEN before the builders read them)
AMOUNT_TABLES = ("monthly_cashflows", "financial_statements", "payments")


def amounts_read(
    name: str, table: Arrays, as_of: np.ndarray, config: FeatureConfig | None = None, history_months: int = 0
) -> Bool:
    """For each record of history ``name``, whether the builders read its amounts; ``as_of`` is each record's
    evaluation date (datetime64; records of many applications may have different ones), ``table["entity"]`` the
    record's firm (statements only: their window is the firm's latest two); ``history_months``: the months of
    cash flows a sequence model reads too (``_sequences``)."""
    config = config or FeatureConfig()
    if len(next(iter(table.values()), ())) == 0:  # no record: none read
        return np.zeros(0, dtype=bool)
    days = np.asarray(as_of, dtype="datetime64[D]")
    if name == "monthly_cashflows":
        last = month_number(days - 1)  # the month before as_of (the panels' last month)
        month = month_number(table["month"])
        read: Bool = (month <= last) & (month > last - max(config.window_months, history_months))
        return read
    if name == "payments":
        due = np.asarray(table["due_date"], dtype="datetime64[D]")
        read = (due < days) & (due >= add_months(days, -12))
        return read
    if name == "financial_statements":
        period_end = np.asarray(table["period_end"], dtype="datetime64[D]")
        codes = np.asarray(table["entity"], dtype=np.int64)
        filed = add_months(period_end, config.statement_lag_months)
        usable = ~np.isnat(period_end) & (filed < days)
        from pymescore.features._fused import latest_two

        # the statement features read each firm's latest statement and the one before it
        latest, before = latest_two(codes, usable, period_end.astype(np.int64), int(codes.max()) + 1)
        read = np.zeros(len(codes), dtype=bool)
        read[latest[latest >= 0]] = True
        read[before[before >= 0]] = True
        return read
    return np.zeros(len(next(iter(table.values()), ())), dtype=bool)
