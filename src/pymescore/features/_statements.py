"""Profitability and leverage from the latest financial statement filed before as_of."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pymescore.features._arrays import F64, Arrays, add_months, day_number, month_number

_AMOUNTS = ("total_assets_pen", "total_liabilities_pen", "equity_pen", "revenue_pen", "cost_of_sales_pen",
            "net_income_pen")  # fmt: skip


def statement_features(statements: Arrays, n: int, as_of: pd.Timestamp, lag_months: int) -> dict[str, F64]:
    """Profitability, leverage, growth and age of each firm's latest statement filed before as_of (its period end
    plus ``lag_months``): one compiled pass over the rows (``_fused.statement_block``)."""
    from pymescore.features._fused import STATEMENT_COLUMNS, latest_two, statement_block

    period_end = np.asarray(statements["period_end"], dtype="datetime64[ns]")
    usable = ~np.isnat(period_end) & (add_months(period_end, lag_months) < np.datetime64(as_of.date()))
    codes = np.asarray(statements["entity"], dtype=np.int64)
    latest, before = latest_two(codes, usable, day_number(period_end), n)
    values = np.column_stack([np.asarray(statements[c], dtype=np.float64) for c in _AMOUNTS]).reshape(-1, 6)
    as_of_month = int(month_number(np.array([as_of.to_datetime64()]))[0])
    block = statement_block(latest, before, month_number(period_end), values, as_of_month)
    return dict(zip(STATEMENT_COLUMNS, block.T, strict=True))
