"""``simulate``: wire the parts together in the order the data-generating process needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.simulate._bureau import bureau_table
from pymescore.simulate._catalog import SHOCK_DEPARTMENTS
from pymescore.simulate._config import DEFAULT_DEFINITION, Calendar, SimulationConfig
from pymescore.simulate._credit import NEVER, at_risk, auc, oracle_table, simulate_risk
from pymescore.simulate._flows import cashflow_table, simulate_flows
from pymescore.simulate._fx import ExchangeRates, simulate_rates
from pymescore.simulate._inject import inject
from pymescore.simulate._loans import debt_by_month, missed_due_date, plan_loans, simulate_payments
from pymescore.simulate._policy import applications_table, decide, hide_rejected, mark_oracle
from pymescore.simulate._population import build_population, firms_table
from pymescore.simulate._random import stream
from pymescore.simulate._statements import statements_table

#: the raw tables, in the order they are written
RAW_TABLES = (
    "firms",
    "monthly_cashflows",
    "financial_statements",
    "payments",
    "bureau_ratings",
    "exchange_rates",
)
#: steps reported to a progress callback
STEPS = ("population", "loans", "risk", "cash flows", "statements", "bureau", "oracle", "policy", "errors")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Shared:
    """What the chunks of one population share (``simulate_chunked``): the exchange rates, the macro stress path,
    and each chunk's own slice of the population's RUC numbers (company, person), disjoint from the others'."""

    fx: ExchangeRates
    stress: npt.NDArray[np.float64]
    ruc_pool: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


@dataclass(frozen=True)
class SimulatedData:
    """One DataFrame per raw table (contract columns), the ground truth and what was injected.

    ``oracle``: (ruc, as_of, true_pd, defaulted) for every firm alive and not yet defaulted at each
    quarter-end ``as_of`` with 6 months of history before and 12 months of performance after.
    ``injected_errors``: (table, row, kind, contract_violation), ``row`` the 1-based row position.
    ``applications`` (with ``policy_history`` only): one row per application and the old policy's decision; the
    oracle then also has ``application`` and ``rejected`` (see ``_policy``).
    """

    config: SimulationConfig
    firms: pd.DataFrame
    monthly_cashflows: pd.DataFrame
    financial_statements: pd.DataFrame
    payments: pd.DataFrame
    bureau_ratings: pd.DataFrame
    exchange_rates: pd.DataFrame
    oracle: pd.DataFrame
    injected_errors: pd.DataFrame
    info: dict[str, object] = field(default_factory=dict)
    applications: pd.DataFrame | None = None

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The raw tables by name (``applications`` last, when the policy history was simulated)."""
        out = {name: getattr(self, name) for name in RAW_TABLES}
        return out if self.applications is None else {**out, "applications": self.applications}

    def summary(self) -> dict[str, object]:
        """Rows per table, simulated default rate, oracle AUC and what was injected (JSON-ready)."""
        errors = self.injected_errors
        violation = errors["contract_violation"].to_numpy(dtype=bool)
        rows = {name: len(df) for name, df in self.tables.items()}
        rows["oracle"] = len(self.oracle)
        return {
            "seed": int(self.config.seed),
            "firms": int(self.config.firms),
            "months": int(self.config.months),
            "first_month": str(self.info["first_month"]),
            "last_month": str(self.info["last_month"]),
            "rows": rows,
            "default_rate": float(self.oracle["defaulted"].mean()) if len(self.oracle) else None,
            "target_default_rate": float(self.config.default_rate),
            "oracle_auc": self.info["oracle_auc"],
            "oracle_as_of": self.info["as_of"],
            "firms_defaulted": self.info["firms_defaulted"],
            "injected_errors": int(violation.sum()),
            "injected_outliers": int((~violation).sum()),
            "shock_months": self.info["shock_months"],
            "default_definition": DEFAULT_DEFINITION,
        } | ({"policy": self.info["policy"]} if "policy" in self.info else {})


def simulate(config: SimulationConfig, progress: Progress | None = None, shared: Shared | None = None) -> SimulatedData:
    """Simulate a population of Peruvian SMEs with a known 12-month PD.

    The same config always gives identical frames. ``progress`` (optional) is called with the name of
    each step (``STEPS``) as it starts. ``shared``: this population is a chunk of a larger one (see ``Shared``).

    Default definition: a firm defaults in the first month its SBS rating in ``bureau_ratings`` is 2
    (Deficiente) or worse; ratings follow the retail days-past-due thresholds and stay >= 2 after.

    >>> data = simulate(SimulationConfig(firms=200, months=24, seed=3))
    >>> sorted(data.tables) == sorted(RAW_TABLES)
    True
    """
    say = progress or (lambda step: None)
    calendar = Calendar.from_config(config)
    say("population")
    pop = build_population(config, calendar, None if shared is None else shared.ruc_pool)
    fx = simulate_rates(config.seed, calendar) if shared is None else shared.fx
    say("loans")
    book = plan_loans(pop, calendar, config, fx)
    say("risk")
    risk = simulate_risk(pop, calendar, config, book.exposure_start, None if shared is None else shared.stress)
    dstar = missed_due_date(calendar, book, risk)
    payments = simulate_payments(pop, calendar, config, book, risk, dstar)
    say("cash flows")
    flows = simulate_flows(pop, calendar, config, risk)
    cashflows = cashflow_table(pop, calendar, flows, fx)
    say("statements")
    statements = statements_table(pop, calendar, config, risk, flows, fx)
    say("bureau")
    debt, active = debt_by_month(pop, calendar, book, fx)
    bureau = bureau_table(pop, calendar, config, risk, payments, dstar, debt, active)
    say("oracle")
    oracle = oracle_table(pop, calendar, risk, at_risk(pop, calendar, book.exposure_start), config.seed)
    oracle_auc = auc(oracle["true_pd"], oracle["defaulted"])
    tables = {
        "firms": firms_table(pop),
        "monthly_cashflows": cashflows,
        "financial_statements": statements,
        "payments": payments.table,
        "bureau_ratings": bureau,
        "exchange_rates": fx.table(),
    }
    applications, policy = None, None
    if config.policy_history:
        say("policy")
        decided = decide(pop, calendar, config, risk, flows, bureau)
        applications = applications_table(pop, calendar, decided)
        tables = hide_rejected(tables, pop, calendar, decided)
        oracle = mark_oracle(oracle, applications)
        policy = decided.info(config.rejection_rate)
    say("errors")
    injected = inject(tables, stream(config.seed, "inject"), config.error_rate, config.outlier_rate)
    info: dict[str, object] = {
        "first_month": str(calendar.start),
        "last_month": str(calendar.start + (calendar.months - 1)),
        "as_of": [str(d) for d in calendar.month_end(calendar.as_of_months())],
        "oracle_auc": oracle_auc,
        "firms_defaulted": int((risk.default_month < NEVER).sum()),
        "hazard_intercept": float(risk.alpha),
        "shock_months": [str(calendar.start + int(t)) for t in risk.shock_months],
        "shock_departments": list(SHOCK_DEPARTMENTS) if risk.shock_months.size else [],
    }
    if policy is not None:
        info["policy"] = policy
    return SimulatedData(
        config=config, oracle=oracle, injected_errors=injected, info=info, applications=applications, **tables
    )
