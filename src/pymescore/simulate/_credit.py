"""Latent credit quality over time, the monthly default hazard, its calibration, defaults and the oracle.

The hazard of firm i in month t (given it exists, has not defaulted and owes an instalment due in
month t-1) is ``sigmoid(alpha - QUALITY_SLOPE * q[i, t] + static[i] + young + shock + stress[t])``,
where ``q = z + delta * clip((t - mid) / 12, -1.5, 1.5) + w`` (w an AR(1) disturbance). ``alpha`` is set by bisection
so that the expected share of oracle pairs that default equals the configured default rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.simulate import _catalog as cat
from pymescore.simulate._columns import text_take
from pymescore.simulate._config import Calendar, SimulationConfig
from pymescore.simulate._population import Population
from pymescore.simulate._random import sigmoid, stream

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: how strongly latent quality moves the hazard (sets the oracle's AUC)
QUALITY_SLOPE = 1.55
_W_SD, _W_PHI = 0.35, 0.85
_TREND_YEARS = 1.5  # the drift of quality lasts at most this long either side of the window's middle
_STRESS_SD, _STRESS_PHI = 0.15, 0.85
_SHOCK_HAZARD = 1.2
_YOUNG_HAZARD, _YOUNG_MONTHS = 0.6, 18.0
#: "never defaulted" sentinel for default months
NEVER = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class RiskPath:
    """Everything time-varying that drives the firms: latent quality, stress, shock, hazard, defaults."""

    quality: F64  # q[i, t]
    disturbance: F64  # w[i, t], the part of q not in z + trend
    stress: F64  # stress[t]
    shock: F64  # shock[i, t] in [0, 1]
    shock_months: I64
    hazard: F64  # h[i, t]
    alpha: float
    default_month: I64  # first month with rating >= 2, NEVER if none


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], sd: float, phi: float) -> F64:
    out = np.empty(shape)
    out[..., 0] = rng.normal(0.0, sd, shape[:-1])
    innov = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), shape)
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + innov[..., t]
    return out


def shock_months(calendar: Calendar) -> I64:
    """Months of the coastal shock: a February-June episode starting near the window's middle."""
    n = len(cat.SHOCK_PROFILE)
    febs = np.flatnonzero(calendar.calendar_month[: calendar.months - n + 1] == 2)
    if febs.size == 0:
        return np.zeros(0, dtype=np.int64)
    first = febs[np.argmin(np.abs(febs - (calendar.months // 2 - 2)))]
    return np.arange(first, first + n, dtype=np.int64)


def _shock(pop: Population, calendar: Calendar, enabled: bool) -> tuple[F64, I64]:
    months = shock_months(calendar) if enabled else np.zeros(0, dtype=np.int64)
    profile = np.zeros(calendar.months)
    profile[months] = np.asarray(cat.SHOCK_PROFILE)[: months.size]
    hit = np.isin(pop.department, cat.SHOCK_DEPARTMENTS).astype(np.float64)
    return hit[:, None] * profile[None, :], months


def hazard_logit_base(pop: Population, calendar: Calendar, q: F64, shock: F64, stress: F64) -> F64:
    """Hazard log-odds without the intercept."""
    t = np.arange(calendar.months)
    age = t[None, :] - pop.start_month[:, None]
    young = _YOUNG_HAZARD * np.exp(-np.maximum(age, 0) / _YOUNG_MONTHS)
    out: F64 = -QUALITY_SLOPE * q + pop.static_logit[:, None] + young + _SHOCK_HAZARD * shock + stress[None, :]
    return out


def at_risk(pop: Population, calendar: Calendar, exposure_start: I64) -> npt.NDArray[np.bool_]:
    """Firm-months in which a default can happen: the firm exists and owes an instalment due last month."""
    t = np.arange(calendar.months)[None, :]
    out: npt.NDArray[np.bool_] = (t >= pop.start_month[:, None]) & (t >= exposure_start[:, None])
    return out


def _cum_log_survival(h: F64) -> F64:
    out: F64 = np.cumsum(np.log1p(-h), axis=1)
    return out


def _expected_rate(h: F64, exists_at: npt.NDArray[np.bool_], as_of: I64) -> float:
    """Expected mean of ``defaulted`` over the oracle pairs (survival-weighted mean 12-month PD)."""
    c = _cum_log_survival(h)
    surv = np.exp(c[:, as_of]) * exists_at
    pd12 = 1.0 - np.exp(c[:, as_of + 12] - c[:, as_of])
    return float((surv * pd12).sum() / max(surv.sum(), 1e-12))


def calibrate_alpha(
    base: F64, risk: npt.NDArray[np.bool_], exists_at: npt.NDArray[np.bool_], as_of: I64, target: float
) -> float:
    """Intercept with expected oracle default rate == target (bisection; at most 50k firms used)."""
    rows = slice(None, None, -(-base.shape[0] // 50_000))  # a stride: firms are sorted by RUC
    b, r, e = base[rows], risk[rows], exists_at[rows]
    lo, hi = -16.0, 4.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if _expected_rate(sigmoid(mid + b) * r, e, as_of) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-5:
            break
    return 0.5 * (lo + hi)


def macro_stress(seed: int, calendar: Calendar) -> F64:
    """A macro stress path of its own stream: what the chunks of one population share (``simulate_chunked``)."""
    return _ar1(stream(seed, "macro stress"), (calendar.months,), _STRESS_SD, _STRESS_PHI)


def simulate_risk(
    pop: Population, calendar: Calendar, config: SimulationConfig, exposure_start: I64, stress: F64 | None = None
) -> RiskPath:
    """Draw latent paths, calibrate the hazard to the default rate, and draw default months.

    ``stress``: a macro stress path to use instead of this population's own draw (which is still drawn, so that
    the later draws do not shift)."""
    rng = stream(config.seed, "risk")
    m = calendar.months
    w = _ar1(rng, (pop.n, m), _W_SD, _W_PHI)
    years = np.clip((np.arange(m) - (m - 1) / 2) / 12.0, -_TREND_YEARS, _TREND_YEARS)
    trend = pop.delta[:, None] * years[None, :]
    q = pop.z[:, None] + trend + w
    drawn = _ar1(rng, (m,), _STRESS_SD, _STRESS_PHI)
    stress = drawn if stress is None else stress
    shock, months = _shock(pop, calendar, config.shock)
    base = hazard_logit_base(pop, calendar, q, shock, stress)
    risk = at_risk(pop, calendar, exposure_start)
    as_of = calendar.as_of_months()
    exists_at = pop.start_month[:, None] <= as_of[None, :]
    alpha = calibrate_alpha(base, risk, exists_at, as_of, config.default_rate)
    hazard = sigmoid(alpha + base) * risk
    hit = rng.random((pop.n, m)) < hazard
    default_month = np.where(hit.any(axis=1), hit.argmax(axis=1), NEVER).astype(np.int64)
    return RiskPath(q, w, stress, shock, months, hazard, alpha, default_month)


#: future paths drawn per firm to average the 12-month PD over what is unknown at as_of
ORACLE_DRAWS = 24


def _pd_seen_at(
    pop: Population, calendar: Calendar, risk: RiskPath, t: int, rows: npt.NDArray[np.int64],
    exposure: npt.NDArray[np.bool_], rng: np.random.Generator,
) -> F64:  # fmt: skip
    """The 12-month PD a forecaster standing at the end of month ``t`` would compute.

    Latent quality keeps its known part (level and trend) and the AR(1) disturbance goes on from its value
    at ``t`` with fresh innovations; macro stress likewise; the regional shock and the loan schedule are
    known plans. The PD is averaged over ``ORACLE_DRAWS`` such futures (the realised innovations are in
    the outcomes, not in the oracle).
    """
    months = np.arange(t + 1, t + 13)
    known = (risk.quality - risk.disturbance)[rows][:, months]
    shock = risk.shock[rows][:, months]
    expo = exposure[rows][:, months]
    age = months[None, :] - pop.start_month[rows][:, None]
    young = _YOUNG_HAZARD * np.exp(-np.maximum(age, 0) / _YOUNG_MONTHS)
    static = pop.static_logit[rows][:, None] + young + _SHOCK_HAZARD * shock
    total = np.zeros(len(rows))
    for _ in range(ORACLE_DRAWS):
        w = risk.disturbance[rows, t].copy()
        stress = float(risk.stress[t])
        log_surv = np.zeros(len(rows))
        for j in range(12):
            w = _W_PHI * w + rng.normal(0.0, _W_SD * np.sqrt(1 - _W_PHI**2), len(rows))
            stress = _STRESS_PHI * stress + rng.normal(0.0, _STRESS_SD * np.sqrt(1 - _STRESS_PHI**2))
            logit = risk.alpha - QUALITY_SLOPE * (known[:, j] + w) + static[:, j] + stress
            log_surv += np.log1p(-sigmoid(logit) * expo[:, j])
        total += 1.0 - np.exp(log_surv)
    return total / ORACLE_DRAWS


def oracle_table(
    pop: Population, calendar: Calendar, risk: RiskPath, exposure: npt.NDArray[np.bool_], seed: int
) -> pd.DataFrame:
    """(ruc, as_of) pairs with the 12-month PD known at as_of and the realised outcome."""
    rng = stream(seed, "oracle")
    frames = []
    for t in calendar.as_of_months():
        keep = (pop.start_month <= t) & (risk.default_month > t)
        pd12 = _pd_seen_at(pop, calendar, risk, int(t), np.flatnonzero(keep), exposure, rng)
        frames.append(
            pd.DataFrame(
                {
                    "ruc": text_take(pop.ruc, np.flatnonzero(keep)),
                    "as_of": pd.Series(np.repeat(calendar.month_end(t), keep.sum()).astype("datetime64[us]")),
                    "true_pd": np.clip(pd12, 1e-9, 1 - 1e-9),
                    "defaulted": risk.default_month[keep] <= t + 12,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float | None:
    """Area under the ROC curve by the rank (Mann-Whitney) formula; None when one class is absent."""
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
