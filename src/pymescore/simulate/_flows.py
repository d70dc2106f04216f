"""Monthly cash flows: level from size and sector, seasonality, trend, latent quality, shock, default."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.simulate import _catalog as cat
from pymescore.simulate._columns import text_take
from pymescore.simulate._config import Calendar, SimulationConfig
from pymescore.simulate._credit import NEVER, RiskPath
from pymescore.simulate._fx import ExchangeRates
from pymescore.simulate._population import Population
from pymescore.simulate._random import stream

_CURRENCIES = ("PEN", "USD")
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

_SHOCK_INCOME = 0.35  # income lost at full shock intensity (agriculture: x1.5)
_AFTER_DEFAULT = 0.55  # income kept after default
_EXIT_SHARE = 0.4  # defaulted firms that stop reporting cash flows within 6 months
_GAP_SHARE = 0.02  # firm-months missing at random


@dataclass(frozen=True)
class Flows:
    """Monthly income and expenses in PEN (firms x months) and which firm-months are reported."""

    income: F64
    expenses: F64
    reported: Bool


def season_factors(pop: Population, calendar: Calendar) -> F64:
    """Seasonal income factor of each firm's sector in each simulated month."""
    profiles = {k: np.asarray(v) / np.mean(v) for k, v in cat.SEASONS.items()}
    table = np.stack([profiles[cat.SECTORS[s].season] for s in cat.SECTORS])
    out: F64 = table[pop.section][:, calendar.calendar_month - 1]
    return out


def simulate_flows(pop: Population, calendar: Calendar, config: SimulationConfig, risk: RiskPath) -> Flows:
    """Income and expenses of every firm-month (PEN), with the reporting mask."""
    rng = stream(config.seed, "flows")
    m = calendar.months
    t = np.arange(m)[None, :]
    age = t - pop.start_month[:, None]
    exists = age >= 0
    ramp = np.clip(0.4 + 0.6 * (age + 1) / 6.0, 0.0, 1.0)
    shock_loss = _SHOCK_INCOME * np.where(pop.sections == "A", 1.5, 1.0)[:, None] * risk.shock
    defaulted = t >= risk.default_month[:, None]
    expected = (
        pop.base_income[:, None]
        * season_factors(pop, calendar)
        * np.exp(pop.growth[:, None] * np.minimum(t / 12.0, 3.0) + 0.3 * risk.disturbance - 0.12 * risk.stress[None, :])
        * (1.0 - shock_loss)
        * ramp
        * np.where(defaulted, _AFTER_DEFAULT, 1.0)
    )
    sigma = pop.volatility[:, None] * np.where(defaulted, 1.5, 1.0)
    income = expected * np.exp(sigma * rng.standard_normal((pop.n, m)) - 0.5 * sigma**2)
    ratio = (
        pop.expense_ratio[:, None]
        - 0.04 * risk.disturbance
        + 0.06 * risk.shock
        + 0.12 * defaulted
        + rng.normal(0.0, 0.03, (pop.n, m))
    )
    expenses = np.clip(ratio, 0.3, 1.6) * (0.6 * income + 0.4 * expected)
    exits = (risk.default_month < NEVER) & (rng.random(pop.n) < _EXIT_SHARE)
    exit_month = np.where(exits, risk.default_month + rng.integers(1, 7, pop.n), NEVER)
    reported = exists & (t < exit_month[:, None]) & (rng.random((pop.n, m)) >= _GAP_SHARE)
    return Flows(income=income * exists, expenses=expenses * exists, reported=reported)


def cashflow_table(pop: Population, calendar: Calendar, flows: Flows, fx: ExchangeRates) -> pd.DataFrame:
    """The ``monthly_cashflows`` raw table; dollarised firms report a USD row for part of their flows."""
    firm, month = np.nonzero(flows.reported)
    share = pop.usd_cashflow_share[firm]
    income, expenses = flows.income[firm, month], flows.expenses[firm, month]
    usd = share > 0
    rate = fx.on(calendar.month_end(month[usd]))
    all_firm = np.concatenate([firm, firm[usd]])
    all_month = np.concatenate([month, month[usd]])
    is_usd = np.concatenate([np.zeros(firm.size, dtype=bool), np.ones(int(usd.sum()), dtype=bool)])
    all_income = np.concatenate([income * (1.0 - share), income[usd] * share[usd] / rate])
    all_expenses = np.concatenate([expenses * (1.0 - share), expenses[usd] * share[usd] / rate])
    order = np.lexsort((is_usd, all_month, all_firm))
    f, mo = all_firm[order], all_month[order]
    return pd.DataFrame(
        {
            "ruc": text_take(pop.ruc, f),
            "month": pd.Series(calendar.month_start(mo).astype("datetime64[us]")),
            "currency": text_take(_CURRENCIES, is_usd[order].astype(np.int64)),
            "income": np.round(all_income[order], 2),
            "expenses": np.round(all_expenses[order], 2),
        }
    )
