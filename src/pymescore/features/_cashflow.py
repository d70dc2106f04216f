"""Cash-flow features from ``monthly_cashflows`` (amounts in PEN), on a firms × months panel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pymescore.features._arrays import (
    F64,
    Arrays,
    group_count,
    month_number,
    ratio,
    row_count,
    row_mean,
)
from pymescore.features._config import SIZE_BOUNDS_UIT, FeatureConfig

#: a month's margin when it had expenses and no income (the lower end of the margins' valid range)
MARGIN_FLOOR = -10.0


class CashflowPanel:
    """Monthly income, expenses and USD income of each firm over the ``window`` months before as_of."""

    def __init__(self, flows: Arrays, n: int, last_month: int, window: int) -> None:
        from pymescore.features._fused import monthly_panels

        codes = np.asarray(flows["entity"], dtype=np.int64)
        months = month_number(flows["month"])
        first = last_month - window + 1
        income = np.asarray(flows["income_pen"], dtype=np.float64)
        usd = np.asarray(flows["currency"], dtype=object) == "USD"
        values = np.column_stack([income, np.asarray(flows["expenses_pen"], dtype=np.float64),
                                  np.where(usd, income, 0.0)])  # fmt: skip
        self.income, self.expenses, self.usd_income = monthly_panels(codes, months, values, n, first, window)
        # months of history: distinct months with a record, over the whole history before as_of
        before = months <= last_month
        codes, months = codes[before], months[before]
        pairs = np.unique(codes * 100_000 + (months - months.min() if len(months) else months))
        self.months_of_history = group_count(pairs // 100_000, n)


def income_growth_12m(panel: CashflowPanel) -> F64:
    """Income of the last 12 months over the 12 before (per-month means), minus 1: the context input."""
    return ratio(row_mean(panel.income[:, -12:]), row_mean(panel.income[:, -24:-12])) - 1.0


def cashflow_features(panel: CashflowPanel, as_of: pd.Timestamp, config: FeatureConfig) -> dict[str, F64]:
    """Means, medians, margins, trends, volatility, seasonality and size from the monthly panel: one compiled
    loop per firm (``_fused.cashflow_block``)."""
    from pymescore.features._fused import CASHFLOW_COLUMNS, cashflow_block

    bounds = np.asarray(SIZE_BOUNDS_UIT, dtype=np.float64)
    block = cashflow_block(panel.income, panel.expenses, panel.usd_income, config.uit(as_of.year), bounds, MARGIN_FLOOR)
    out: dict[str, F64] = dict(zip(CASHFLOW_COLUMNS, block.T, strict=True))
    out["months_of_history"] = panel.months_of_history
    out["has_cashflows"] = (row_count(panel.income[:, -12:]) > 0).astype(np.float64)
    return out
