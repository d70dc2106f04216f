"""Cash-flow features from ``monthly_cashflows`` (amounts in PEN), on a firms × months panel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pymescore.features._arrays import (
    F64,
    Arrays,
    group_count,
    month_number,
    monthly_panel,
    ratio,
    row_count,
    row_mean,
    row_median,
    row_std,
)
from pymescore.features._config import SIZE_BOUNDS_UIT, FeatureConfig

#: a month's margin when it had expenses and no income (the lower end of the margins' valid range)
MARGIN_FLOOR = -10.0


class CashflowPanel:
    """Monthly income, expenses and USD income of each firm over the ``window`` months before as_of."""

    def __init__(self, flows: Arrays, n: int, last_month: int, window: int) -> None:
        codes = np.asarray(flows["entity"], dtype=np.int64)
        months = month_number(flows["month"])
        before = months <= last_month
        codes, months = codes[before], months[before]
        first = last_month - window + 1
        income = np.asarray(flows["income_pen"], dtype=np.float64)[before]
        expenses = np.asarray(flows["expenses_pen"], dtype=np.float64)[before]
        usd = (np.asarray(flows["currency"], dtype=object) == "USD")[before]
        self.income = monthly_panel(codes, months, income, n, first, window)
        self.expenses = monthly_panel(codes, months, expenses, n, first, window)
        self.usd_income = monthly_panel(codes, months, np.where(usd, income, 0.0), n, first, window)
        self.net = self.income - self.expenses
        # months of history: distinct months with a record, over the whole history before as_of
        pairs = np.unique(codes * 100_000 + (months - months.min() if len(months) else months))
        self.months_of_history = group_count(pairs // 100_000, n)


def _slope(panel: F64) -> F64:
    """OLS slope of each row against time (NaN for fewer than 3 points)."""
    t = np.arange(panel.shape[1], dtype=np.float64)
    valid = ~np.isnan(panel)
    n = valid.sum(axis=1).astype(np.float64)
    t_mean = ratio((valid * t).sum(axis=1), n)
    y_mean = ratio(np.nansum(panel, axis=1), n)
    dt = np.where(valid, t - t_mean[:, None], 0.0)
    dy = np.where(valid, panel - y_mean[:, None], 0.0)
    slope = ratio((dt * dy).sum(axis=1), (dt**2).sum(axis=1))
    slope[n < 3] = np.nan
    return slope


def _row_corr(a: F64, b: F64) -> F64:
    """Pearson correlation of matching columns of two panels, rows with 6+ complete pairs."""
    valid = ~np.isnan(a) & ~np.isnan(b)
    n = valid.sum(axis=1).astype(np.float64)
    am = ratio(np.where(valid, a, 0).sum(axis=1), n)
    bm = ratio(np.where(valid, b, 0).sum(axis=1), n)
    da = np.where(valid, a - am[:, None], 0.0)
    db = np.where(valid, b - bm[:, None], 0.0)
    denom = np.sqrt((da**2).sum(axis=1) * (db**2).sum(axis=1))
    out = np.full(len(a), np.nan)
    ok = (n >= 6) & (denom > 1e-12)
    out[ok] = (da * db).sum(axis=1)[ok] / denom[ok]
    return out


def income_growth_12m(panel: CashflowPanel) -> F64:
    """Income of the last 12 months over the 12 before (per-month means), minus 1: the context input."""
    return ratio(row_mean(panel.income[:, -12:]), row_mean(panel.income[:, -24:-12])) - 1.0


def cashflow_features(panel: CashflowPanel, as_of: pd.Timestamp, config: FeatureConfig) -> dict[str, F64]:
    out: dict[str, F64] = {}
    for stem, data in (("income", panel.income), ("expenses", panel.expenses), ("net_cf", panel.net)):
        for months in (3, 6, 12):
            out[f"{stem}_mean_{months}m"] = row_mean(data[:, -months:])
        out[f"{stem}_median_12m"] = row_median(data[:, -12:])
    last12_income = panel.income[:, -12:]
    mean_income = out["income_mean_12m"]
    out["log_income_mean_12m"] = np.log1p(np.where(mean_income >= 0, mean_income, np.nan))
    both = ~np.isnan(panel.net[:, -12:])
    out["net_cf_margin_12m"] = ratio(
        np.where(both, panel.net[:, -12:], 0).sum(axis=1), np.where(both, last12_income, 0).sum(axis=1)
    )
    cv = ratio(row_std(last12_income), mean_income)
    cv[row_count(last12_income) < 3] = np.nan
    out["income_cv_12m"] = cv
    negative = (panel.net[:, -12:] < 0).sum(axis=1).astype(np.float64)
    negative[row_count(panel.net[:, -12:]) == 0] = np.nan
    out["net_cf_negative_months_12m"] = negative
    out["income_slope_12m"] = ratio(_slope(last12_income), mean_income)
    both24 = ~np.isnan(panel.net[:, -24:])
    out["net_cf_margin_24m"] = ratio(
        np.where(both24, panel.net[:, -24:], 0).sum(axis=1), np.where(both24, panel.income[:, -24:], 0).sum(axis=1)
    )
    income24, net24 = panel.income[:, -24:], panel.net[:, -24:]
    with np.errstate(divide="ignore", invalid="ignore"):
        monthly_margin = np.where(income24 > 0, net24 / income24, np.nan)
    # a month that paid expenses without any income is the worst month there is, not a month without data
    monthly_margin[(income24 == 0) & (net24 < 0)] = MARGIN_FLOOR
    out["net_cf_margin_median_24m"] = row_median(monthly_margin)
    log_income = np.log(np.where(panel.income[:, -24:] > 0, panel.income[:, -24:], np.nan))
    out["income_growth_24m"] = _slope(log_income)
    volatility = row_std(np.diff(log_income, axis=1))
    volatility[row_count(log_income) < 4] = np.nan
    out["income_volatility_24m"] = volatility
    out["income_yoy_growth_3m"] = ratio(row_mean(panel.income[:, -3:]), row_mean(panel.income[:, -15:-12])) - 1.0
    out["seasonality_strength"] = _row_corr(panel.income[:, -12:], panel.income[:, -24:-12])
    annual_sales = mean_income * 12.0
    sales_uit = annual_sales / config.uit(as_of.year)
    out["annual_sales_uit"] = sales_uit
    size = np.searchsorted(np.asarray(SIZE_BOUNDS_UIT), sales_uit, side="left").astype(np.float64)
    size[np.isnan(sales_uit)] = np.nan
    out["size_class"] = size
    out["usd_share_income_12m"] = ratio(np.nansum(panel.usd_income[:, -12:], axis=1), np.nansum(last12_income, axis=1))
    out["months_of_history"] = panel.months_of_history
    out["has_cashflows"] = (row_count(last12_income) > 0).astype(np.float64)
    return out
