"""Profitability and leverage from the latest financial statement filed before as_of."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pymescore.features._arrays import F64, Arrays, add_months, day_number, month_number, product, ratio


def _latest_per_firm(codes: np.ndarray, order_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row positions, firm codes) of each firm's latest row by ``order_key``."""
    order = np.lexsort((order_key, codes))
    last = np.r_[codes[order][1:] != codes[order][:-1], True] if len(order) else np.zeros(0, dtype=bool)
    rows = order[last]
    return rows, codes[rows]


_OUTPUTS = (
    "roa", "roe", "gross_margin", "net_margin", "roa_x_gross_margin", "revenue_growth", "total_debt", "total_equity",
    "debt_to_equity", "negative_equity", "log_total_assets", "statement_age_months",
)  # fmt: skip


def _nothing_filed(n: int) -> dict[str, F64]:
    out = {name: np.full(n, np.nan) for name in _OUTPUTS}
    out["has_statements"] = np.zeros(n)
    return out


def statement_features(statements: Arrays, n: int, as_of: pd.Timestamp, lag_months: int) -> dict[str, F64]:
    codes = np.asarray(statements["entity"], dtype=np.int64)
    if len(codes) == 0:
        return _nothing_filed(n)
    period_end = np.asarray(statements["period_end"], dtype="datetime64[ns]")
    filed = add_months(period_end, lag_months)
    keep = ~np.isnat(period_end) & (filed < np.datetime64(as_of.date()))
    pos = np.flatnonzero(keep)
    pe_days = day_number(period_end)[pos]
    rows, firm = _latest_per_firm(codes[pos], pe_days)
    latest = pos[rows]

    def col(name: str, at: np.ndarray, where: np.ndarray) -> F64:
        values = np.full(n, np.nan)
        values[where] = np.asarray(statements[name], dtype=np.float64)[at]
        return values

    assets, liabilities = col("total_assets_pen", latest, firm), col("total_liabilities_pen", latest, firm)
    equity, revenue = col("equity_pen", latest, firm), col("revenue_pen", latest, firm)
    cost, income = col("cost_of_sales_pen", latest, firm), col("net_income_pen", latest, firm)
    # the statement before the latest one, for revenue growth
    rest = np.ones(len(pos), dtype=bool)
    rest[rows] = False
    prev_rows, prev_firm = _latest_per_firm(codes[pos][rest], pe_days[rest])
    prev_revenue = col("revenue_pen", pos[rest][prev_rows], prev_firm)

    out: dict[str, F64] = {}
    out["roa"] = ratio(income, assets)
    out["roe"] = ratio(income, equity)
    out["gross_margin"] = ratio(revenue - cost, revenue)
    out["net_margin"] = ratio(income, revenue)
    out["roa_x_gross_margin"] = product(out["roa"], out["gross_margin"])
    out["revenue_growth"] = ratio(revenue, prev_revenue) - 1.0
    out["total_debt"] = liabilities
    out["total_equity"] = equity
    out["debt_to_equity"] = ratio(liabilities, equity)
    out["negative_equity"] = np.where(np.isnan(equity), np.nan, (equity <= 0).astype(np.float64))
    out["log_total_assets"] = np.log1p(np.where(assets >= 0, assets, np.nan))
    age = np.full(n, np.nan)
    age[firm] = month_number(np.array([as_of.to_datetime64()]))[0] - month_number(period_end[latest])
    out["statement_age_months"] = age
    out["has_statements"] = (~np.isnan(assets)).astype(np.float64)
    return out
