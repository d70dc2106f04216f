"""An earlier lending policy, replayed (``simulate --policy-history``): who applied when, what the old scorecard saw
and decided, and the raw tables a lender keeps when it lends only to the firms it approved.

- **Applications.** Each firm applies once, at a quarter-end drawn at random among those at which it is at risk
  (it exists and is not in default: the oracle's ``as_of`` pairs), so every application has its oracle row.
- **The old scorecard** is the points table ``POINTS`` over what a lender saw on the application date: the firm's
  SBS rating that month, its sales over its last 12 reported months, its age, and its debt in the financial system
  over those sales. An officer's judgement adds ``JUDGEMENT_SD`` points, ``SOFT_INFORMATION`` of it (as a
  correlation) the firm's latent quality that month: what an officer learns by visiting a firm and no feature
  holds, so the selection is partly on information the model never sees, as in real lending.
- **The cut-off** rejects the ``rejection_rate`` share of all applications with the lowest score (points plus
  judgement): one cut-off for the whole period, as a policy in force.
- **What the lender keeps**: every record of a firm it approved (or that never applied); of a rejected firm only
  what is dated before the decision, in the point-in-time sense of the features: cash flows and bureau months
  before the application date, instalments due before it (a payment made on or after it erased: unpaid as seen
  then) and statements whose period ended before it. The rejected firm's outcome is hidden from the lake; the
  oracle keeps it and marks the application ``rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.simulate._columns import text_take
from pymescore.simulate._config import Calendar, SimulationConfig
from pymescore.simulate._credit import RiskPath
from pymescore.simulate._flows import Flows
from pymescore.simulate._population import Population
from pymescore.simulate._random import stream

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]


class Band(NamedTuple):
    """Points of one variable: ``points[k]`` for values in ``[bounds[k-1], bounds[k])``; ``missing`` when unknown."""

    bounds: tuple[float, ...]
    points: tuple[int, ...]
    missing: int
    meaning: str


#: the old scorecard: what a lender saw at the application, in points (more points: more creditworthy)
POINTS: dict[str, Band] = {
    "sbs_rating": Band((1,), (30, 5), 10, "SBS rating of the application month: Normal 30, CPP or worse 5, none 10"),
    "sales_12m_pen": Band((60_000, 300_000, 1_500_000), (0, 10, 20, 30), 0,
                          "sales over the last 12 reported months (PEN, annualised): <60k 0 … ≥1.5M 30; none 0"),
    "age_years": Band((2, 5, 10), (0, 8, 16, 24), 0, "age of the firm (years): <2 0, 2-5 8, 5-10 16, ≥10 24"),
    "debt_to_sales": Band((0.25, 0.5, 1.0), (25, 15, 5, 0), 0,
                          "debt in the financial system over those sales: <0.25 25 … ≥1 0; no sales 0"),
}  # fmt: skip
#: spread of the officer's judgement, in points
JUDGEMENT_SD = 8.0
#: correlation of the judgement with the firm's latent quality in the application month (soft information)
SOFT_INFORMATION = 0.3


@dataclass(frozen=True)
class Applications:
    """One entry per application (firm order): the firm, the month it applied in, what the scorecard saw and
    gave, the score against the cut-off, and the decision."""

    firm: I64
    month: I64
    seen: dict[str, F64]
    points: F64
    score: F64
    approved: Bool
    cutoff: float

    def info(self, asked: float) -> dict[str, object]:
        """What simulation.json records of the policy (JSON-ready)."""
        return {
            "applications": int(self.firm.size),
            "rejection_rate": float(asked),
            "rejected": int((~self.approved).sum()),
            "realised_rejection_rate": float((~self.approved).mean()) if self.firm.size else None,
            "cutoff": self.cutoff,
            "points": {name: band.meaning for name, band in POINTS.items()},
            "judgement_sd": JUDGEMENT_SD,
            "soft_information": SOFT_INFORMATION,
        }


def band_points(name: str, values: F64) -> F64:
    """The points of ``POINTS[name]`` for ``values`` (NaN: the band's ``missing`` points)."""
    band = POINTS[name]
    idx = np.digitize(np.nan_to_num(values, nan=-np.inf), np.asarray(band.bounds, dtype=np.float64))
    out: F64 = np.where(np.isnan(values), band.missing, np.asarray(band.points, dtype=np.float64)[idx])
    return out


def _application_months(pop: Population, calendar: Calendar, risk: RiskPath, rng: np.random.Generator) -> I64:
    """A quarter-end month index per firm, drawn among those it is at risk at; -1 for a firm never at risk."""
    months = calendar.as_of_months()
    at_risk = (pop.start_month[:, None] <= months[None, :]) & (risk.default_month[:, None] > months[None, :])
    count = at_risk.sum(axis=1)
    k = np.floor(rng.random(pop.n) * count).astype(np.int64)
    pick = np.argmax(np.cumsum(at_risk, axis=1) > k[:, None], axis=1)
    out: I64 = np.where(count > 0, months[pick] if months.size else -1, -1).astype(np.int64)
    return out


def _seen(
    pop: Population, calendar: Calendar, flows: Flows, bureau: pd.DataFrame, firm: I64, month: I64
) -> dict[str, F64]:
    """What the lender saw of each application: rating, 12-month sales, age, debt over sales."""
    key = pd.MultiIndex.from_arrays(
        [text_take(pop.ruc, firm), pd.Series(calendar.month_start(month).astype("datetime64[us]"))]
    )
    position = bureau.set_index(["ruc", "month"])[["sbs_rating", "debt_total"]].reindex(key)
    reported = np.where(flows.reported, flows.income, 0.0)
    sums = np.concatenate([np.zeros((pop.n, 1)), np.cumsum(reported, axis=1)], axis=1)
    counts = np.concatenate([np.zeros((pop.n, 1)), np.cumsum(flows.reported, axis=1)], axis=1)
    start = np.maximum(month - 11, 0)
    months_seen = counts[firm, month + 1] - counts[firm, start]
    total = sums[firm, month + 1] - sums[firm, start]
    sales = np.where(months_seen > 0, total / np.maximum(months_seen, 1) * 12.0, np.nan)
    debt = position["debt_total"].to_numpy(dtype=np.float64)
    return {
        "sbs_rating": position["sbs_rating"].to_numpy(dtype=np.float64),
        "sales_12m_pen": sales,
        "age_years": (month - pop.start_month[firm]) / 12.0,
        "debt_to_sales": np.where(sales > 0, debt / np.where(sales > 0, sales, 1.0), np.nan),
    }


def decide(
    pop: Population, calendar: Calendar, config: SimulationConfig, risk: RiskPath, flows: Flows, bureau: pd.DataFrame
) -> Applications:
    """Draw the applications and decide each with the old scorecard at the configured rejection rate."""
    rng = stream(config.seed, "applications")
    months = _application_months(pop, calendar, risk, rng)
    firm = np.flatnonzero(months >= 0)
    month = months[firm]
    seen = _seen(pop, calendar, flows, bureau, firm, month)
    points = sum((band_points(name, seen[name]) for name in POINTS), np.zeros(firm.size))
    quality = risk.quality[firm, month]
    soft = (quality - quality.mean()) / quality.std() if firm.size > 1 and quality.std() > 0 else np.zeros(firm.size)
    noise = rng.standard_normal(firm.size)
    score = points + JUDGEMENT_SD * (SOFT_INFORMATION * soft + np.sqrt(1.0 - SOFT_INFORMATION**2) * noise)
    order = np.argsort(score, kind="stable")
    k = round(config.rejection_rate * firm.size)
    approved = np.ones(firm.size, dtype=bool)
    approved[order[:k]] = False
    if 0 < k < firm.size:
        cutoff = float((score[order[k - 1]] + score[order[k]]) / 2.0)
    else:
        cutoff = float("-inf") if k == 0 else float("inf")
    return Applications(firm, month, seen, points, score, approved, cutoff)


def applications_table(pop: Population, calendar: Calendar, apps: Applications) -> pd.DataFrame:
    """The ``applications`` raw table: one row per application, its decision and the scorecard's points."""
    return pd.DataFrame(
        {
            "ruc": text_take(pop.ruc, apps.firm),
            "application_date": pd.Series(calendar.month_end(apps.month).astype("datetime64[us]")),
            "decision": text_take(("rejected", "approved"), apps.approved.astype(np.int64)),
            "policy_score": apps.points,
        }
    )


#: each history and the column that dates its records
_DATED = (("monthly_cashflows", "month"), ("bureau_ratings", "month"), ("financial_statements", "period_end"),
          ("payments", "due_date"))  # fmt: skip


def hide_rejected(
    tables: dict[str, pd.DataFrame], pop: Population, calendar: Calendar, apps: Applications
) -> dict[str, pd.DataFrame]:
    """The histories as the lender keeps them: a rejected firm's records from its application date on left out,
    its payments made on or after that date erased (unpaid, as seen then)."""
    limit = np.full(pop.n, np.datetime64("NaT"), dtype="datetime64[us]")
    rejected = ~apps.approved
    limit[apps.firm[rejected]] = calendar.month_end(apps.month[rejected]).astype("datetime64[us]")
    index = pd.Index(pop.ruc)
    out = dict(tables)
    for name, column in _DATED:
        frame = tables[name]
        until = limit[index.get_indexer(pd.Index(frame["ruc"]))]
        dated = frame[column].to_numpy(dtype="datetime64[us]")
        kept = frame[~(~np.isnat(until) & (dated >= until))].reset_index(drop=True)
        if name == "payments":
            until = limit[index.get_indexer(pd.Index(kept["ruc"]))]
            paid = kept["paid_date"].to_numpy(dtype="datetime64[us]")
            later = ~np.isnat(until) & ~np.isnat(paid) & (paid >= until)
            kept = kept.assign(
                paid_date=kept["paid_date"].mask(pd.Series(later)),
                amount_paid=np.where(later, 0.0, kept["amount_paid"].to_numpy(dtype=np.float64)),
            )
        out[name] = kept
    return out


def mark_oracle(oracle: pd.DataFrame, applications: pd.DataFrame) -> pd.DataFrame:
    """The oracle with ``application`` (the firm applied on that as_of) and ``rejected`` (and was rejected)."""
    marks = pd.DataFrame(
        {
            "ruc": applications["ruc"],
            "as_of": applications["application_date"],
            "application": True,
            "rejected": (applications["decision"] == "rejected").to_numpy(),
        }
    )
    out = oracle.merge(marks, on=["ruc", "as_of"], how="left", validate="one_to_one")
    return out.assign(
        application=out["application"].fillna(False).astype(bool), rejected=out["rejected"].fillna(False).astype(bool)
    )
