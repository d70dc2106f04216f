"""Annual financial statements, missing not at random (small and weak firms file less often)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.simulate import _catalog as cat
from pymescore.simulate._columns import text_take
from pymescore.simulate._config import Calendar, SimulationConfig
from pymescore.simulate._credit import RiskPath
from pymescore.simulate._flows import Flows
from pymescore.simulate._fx import ExchangeRates
from pymescore.simulate._population import Population
from pymescore.simulate._random import sigmoid, stream

_CURRENCIES = ("PEN", "USD")
F64 = npt.NDArray[np.float64]


def statements_table(
    pop: Population, calendar: Calendar, config: SimulationConfig, risk: RiskPath, flows: Flows,
    fx: ExchangeRates,
) -> pd.DataFrame:  # fmt: skip
    """One row per firm and December inside the window that the firm filed a statement for."""
    rng = stream(config.seed, "statements")
    decembers = np.flatnonzero(calendar.calendar_month == 12)
    filer = rng.normal(0.0, 1.0, pop.n)  # a firm's own habit of filing
    statement_logit = np.array([s.statement_logit for s in cat.SIZES])[pop.size]
    usd_books = (pop.usd_cashflow_share > 0) & (rng.random(pop.n) < 0.4)
    cogs_base = pop.sector_table("cogs")
    turnover = pop.sector_table("assets_turnover")
    frames = []
    year_of = calendar.year
    for t in decembers:
        in_year = np.flatnonzero(year_of == year_of[t])
        q = risk.quality[:, t]
        defaulted = risk.default_month <= t
        exists = pop.start_month <= t
        p = sigmoid(statement_logit + 0.7 * pop.z + 0.3 * risk.disturbance[:, t] + 0.8 * filer)
        filed = exists & (rng.random(pop.n) < np.where(defaulted, 0.4 * p, p))
        # firms older than the window's part of the year: annualise; firms born in the year: what they sold
        months_seen = (flows.income[:, in_year] > 0).sum(axis=1)
        full_year = pop.start_month < in_year[0]
        scale = np.where(full_year, 12.0 / in_year.size, 1.0)
        revenue = flows.income[:, in_year].sum(axis=1) * scale * np.exp(rng.normal(0.0, 0.06, pop.n))
        ratio = flows.expenses[:, in_year].sum(axis=1) / np.maximum(flows.income[:, in_year].sum(axis=1), 1.0)
        cogs = np.clip(cogs_base + 0.5 * (pop.expense_ratio - 0.87) + rng.normal(0.0, 0.04, pop.n), 0.1, 0.98)
        margin = 0.6 * (1.0 - ratio) - 0.02 + rng.normal(0.0, 0.02, pop.n)
        assets = revenue / turnover * np.exp(rng.normal(0.0, 0.25, pop.n))
        leverage = 1.3 * sigmoid(-0.3 - 0.9 * q + rng.normal(0.0, 0.4, pop.n)) * np.where(defaulted, 1.2, 1.0)
        keep = filed & (months_seen > 0)
        period_end = calendar.month_end(t)
        rate = np.where(usd_books[keep], fx.on(np.array([period_end]))[0], 1.0)
        total_assets = np.round(assets[keep] / rate, 2)
        total_liabilities = np.round(assets[keep] * leverage[keep] / rate, 2)
        frames.append(
            pd.DataFrame(
                {
                    "firm": np.flatnonzero(keep),
                    "ruc": text_take(pop.ruc, np.flatnonzero(keep)),
                    "period_end": pd.Series(np.repeat(period_end, keep.sum()).astype("datetime64[us]")),
                    "currency": text_take(_CURRENCIES, usd_books[keep].astype(np.int64)),
                    "total_assets": total_assets,
                    "total_liabilities": total_liabilities,
                    "equity": total_assets - total_liabilities,
                    "revenue": np.round(revenue[keep] / rate, 2),
                    "cost_of_sales": np.round(revenue[keep] * cogs[keep] / rate, 2),
                    "net_income": np.round(revenue[keep] * margin[keep] / rate, 2),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["firm", "period_end"], kind="stable", ignore_index=True)
    return out.drop(columns="firm")
