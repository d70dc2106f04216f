"""Monthly SBS bureau positions: rating from days past due (retail thresholds), debt and lenders."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.simulate._columns import text_take
from pymescore.simulate._config import Calendar, SimulationConfig
from pymescore.simulate._credit import NEVER, RiskPath
from pymescore.simulate._loans import Payments
from pymescore.simulate._population import Population
from pymescore.simulate._random import stream

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: retail DPD thresholds (PERU_DOMAIN 1.2): 0-8 Normal, 9-30 CPP, 31-60 Deficiente, 61-120 Dudoso, >120 Pérdida
DPD_BOUNDS = np.array([9, 31, 61, 121])


def rating_from_dpd(dpd: npt.ArrayLike) -> I64:
    """SBS rating 0-4 of days past due under the retail thresholds."""
    out: I64 = np.digitize(np.asarray(dpd), DPD_BOUNDS).astype(np.int64)
    return out


def _after_default(values: F64, default_month: I64, frozen_col: I64, growth: float) -> F64:
    """From the month before default on: the value two months before default, times growth per month."""
    t = np.arange(values.shape[1])[None, :]
    tau = default_month[:, None]
    after = t >= tau - 1
    frozen = values[np.arange(values.shape[0]), frozen_col]
    out: F64 = np.where(after, frozen[:, None] * growth ** np.where(after, t - tau + 2, 0), values)
    return out


def bureau_table(
    pop: Population, calendar: Calendar, config: SimulationConfig, risk: RiskPath, payments: Payments,
    dstar: npt.NDArray[np.datetime64], debt: F64, active_loans: I64,
) -> pd.DataFrame:  # fmt: skip
    """One row per firm and month it exists: worst rating, total debt (PEN) and number of lenders.

    ``debt`` and ``active_loans`` cover months -2..M-1 (scheduled, as if no default happened).
    """
    rng = stream(config.seed, "bureau")
    n, m = pop.n, calendar.months
    flat = np.zeros(n * m, dtype=np.int64)
    np.maximum.at(flat, payments.late_firm * m + payments.late_month, payments.late_dpd)
    dpd = flat.reshape(n, m)
    defaulted = risk.default_month < NEVER
    month_end = calendar.month_end(np.arange(m))
    since_missed = (month_end[None, :] - dstar[defaulted, None]).astype(np.int64)
    dpd[defaulted] = np.maximum(dpd[defaulted], since_missed)
    rating = rating_from_dpd(dpd)
    # other debt in the system (cards, other lenders) and lenders not in the payments table
    other = 1.0 + rng.exponential(0.15, n)
    extra = np.minimum(rng.poisson(0.4, n), 3)
    frozen_col = np.where(defaulted, risk.default_month, 0)  # column of month tau-2 (columns start at -2)
    tau = np.where(defaulted, risk.default_month, NEVER)
    total = _after_default(debt, tau + 2, frozen_col, 1.015)[:, 2:] * other[:, None]
    lenders = _after_default(active_loans.astype(np.float64), tau + 2, frozen_col, 1.0)[:, 2:]
    lenders = np.where(total > 0, np.maximum(lenders, 1) + extra[:, None], 0).astype(np.int64)
    exists = np.arange(m)[None, :] >= pop.start_month[:, None]
    firm, month = np.nonzero(exists)
    return pd.DataFrame(
        {
            "ruc": text_take(pop.ruc, firm),
            "month": pd.Series(calendar.month_start(month).astype("datetime64[us]")),
            "sbs_rating": rating[firm, month],
            "debt_total": np.round(total[firm, month], 2),
            "n_lenders": np.minimum(lenders[firm, month], 100),
        }
    )
