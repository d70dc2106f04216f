"""Loans: renewal chains of monthly-instalment loans, their payments, and the debt they leave.

Every firm has a main chain of loans (a loan is renewed on its last due date, so an instalment falls
due every month from the first one on); some firms also borrow from a second lender. A firm can only
default while it owes an instalment, and it defaults by missing the main-chain instalment due in the
month before its default month: the days past due then cross 30 at that month's end (rating 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.simulate._columns import text_take
from pymescore.simulate._config import Calendar, SimulationConfig
from pymescore.simulate._credit import NEVER, RiskPath
from pymescore.simulate._fx import ExchangeRates
from pymescore.simulate._population import Population
from pymescore.simulate._random import sigmoid, stream, weighted_choice

_CURRENCIES = ("PEN", "USD")
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

_TERMS = np.array([6, 9, 12, 18, 24, 36], dtype=np.int64)
_TERM_WEIGHTS = np.array(
    [
        [0.30, 0.15, 0.35, 0.15, 0.05, 0.00],  # micro
        [0.10, 0.00, 0.35, 0.25, 0.20, 0.10],  # small
        [0.00, 0.00, 0.20, 0.20, 0.30, 0.30],  # medium
    ]
)
_MONTHLY_RATE = np.array([0.030, 0.020, 0.013])
_SECOND_LENDER = np.array([0.20, 0.45, 0.60])
_LENDERS = (
    "MIBANCO", "CMAC-AREQUIPA", "CMAC-HUANCAYO", "CMAC-PIURA", "CMAC-CUSCO", "BCP", "BBVA", "INTERBANK",
    "SCOTIABANK", "CRAC-RAIZ", "FIN-CONFIANZA", "FIN-COMPARTAMOS",
)  # fmt: skip
_LENDER_WEIGHTS = (0.2, 0.1, 0.08, 0.07, 0.05, 0.12, 0.08, 0.06, 0.04, 0.04, 0.08, 0.08)
#: share of instalments after default recovered by collections (paid 91-240 days late)
_RECOVERED = 0.15


@dataclass(frozen=True)
class LoanBook:
    """One entry per loan, sorted by (firm, chain, seq)."""

    firm: I64
    chain: I64
    disb_month: I64
    disb_date: npt.NDArray[np.datetime64]
    term: I64
    due_day: I64
    principal: F64  # loan currency
    rate: F64
    instalment: F64  # loan currency
    usd: Bool
    loan_id: npt.NDArray[np.object_]
    #: month index from which the main chain owes an instalment due in the previous month
    exposure_start: I64
    #: main-chain due day of each firm (the day of the instalment a defaulting firm misses)
    main_due_day: I64


def _terms(rng: np.random.Generator, size: I64) -> I64:
    cdf = np.cumsum(_TERM_WEIGHTS, axis=1)[size]
    idx = (rng.random(size.size)[:, None] > cdf[:, :-1]).sum(axis=1)
    out: I64 = _TERMS[idx]
    return out


def plan_loans(pop: Population, calendar: Calendar, config: SimulationConfig, fx: ExchangeRates) -> LoanBook:
    """Every loan any firm takes, ignoring defaults (loans after a default are dropped later)."""
    rng = stream(config.seed, "loans")
    m = calendar.months
    multiple = np.exp(rng.normal(0.7 - 0.15 * pop.z, 0.35))
    rate_firm = np.clip(_MONTHLY_RATE[pop.size] - 0.002 * pop.z + rng.normal(0.0, 0.002, pop.n), 0.008, 0.05)
    second = rng.random(pop.n) < _SECOND_LENDER[pop.size]
    parts: dict[str, list[npt.NDArray[np.generic]]] = {k: [] for k in ("firm", "chain", "seq", "d", "day", "T", "dd")}
    main_due_day = np.zeros(pop.n, dtype=np.int64)
    exposure_start = np.zeros(pop.n, dtype=np.int64)
    for chain in (0, 1):
        firm = np.arange(pop.n) if chain == 0 else np.flatnonzero(second)
        term = _terms(rng, pop.size[firm])
        dd = rng.integers(1, 29, firm.size)
        start = pop.start_month[firm]
        if chain == 0:
            d = np.where(
                start < 0, np.maximum(-rng.integers(1, term + 1), start + 1), start + rng.integers(1, 5, firm.size)
            )
            main_due_day[:] = dd
            exposure_start[:] = d + 2
        else:
            d = np.maximum(start + 1, -term + 1) + rng.integers(0, m, firm.size)
        day = rng.integers(1, 29, firm.size)
        seq = 0
        while True:
            alive = d <= m - 1
            if not alive.any():
                break
            firm, term, dd, d, day = firm[alive], term[alive], dd[alive], d[alive], day[alive]
            for key, value in (("firm", firm), ("d", d), ("day", day), ("T", term), ("dd", dd)):
                parts[key].append(value)
            parts["chain"].append(np.full(firm.size, chain))
            parts["seq"].append(np.full(firm.size, seq))
            d, day, seq = d + term, dd, seq + 1
    cols = {k: np.concatenate(v).astype(np.int64) for k, v in parts.items()}
    order = np.lexsort((cols["seq"], cols["chain"], cols["firm"]))
    cols = {k: v[order] for k, v in cols.items()}
    firm, d, term = cols["firm"], cols["d"], cols["T"]
    n_loans = firm.size
    disb_date = calendar.month_start(d) + (cols["day"] - 1).astype("timedelta64[D]")
    size_now = pop.base_income[firm] * np.exp(pop.growth[firm] * np.clip(d / 12.0, -3.0, 3.0))
    principal_pen = size_now * multiple[firm] * np.sqrt(term / 12.0) * rng.uniform(0.8, 1.25, n_loans)
    principal_pen *= np.where(cols["chain"] == 1, 0.5, 1.0)
    usd = pop.usd_loans[firm] & ((cols["chain"] == 0) | (rng.random(n_loans) < 0.5))
    principal: F64 = np.round(np.where(usd, principal_pen / fx.on(disb_date), principal_pen), 2).astype(np.float64)
    rate = rate_firm[firm]
    instalment = np.round(principal * rate / (1.0 - (1.0 + rate) ** (-term)), 2)
    lender_of = weighted_choice(rng, _LENDER_WEIGHTS, pop.n * 2).reshape(pop.n, 2)
    lender = np.asarray(_LENDERS, dtype=object)[lender_of[firm, cols["chain"]]]
    number = pd.Series(rng.choice(10**9, n_loans, replace=False)).astype("str").str.zfill(9)
    loan_id = (pd.Series(lender, dtype="str") + "-" + number).to_numpy(dtype=object)
    return LoanBook(
        firm=firm, chain=cols["chain"], disb_month=d, disb_date=disb_date, term=term, due_day=cols["dd"],
        principal=principal, rate=rate, instalment=instalment, usd=usd, loan_id=loan_id,
        exposure_start=exposure_start, main_due_day=main_due_day,
    )  # fmt: skip


def missed_due_date(calendar: Calendar, book: LoanBook, risk: RiskPath) -> npt.NDArray[np.datetime64]:
    """The first instalment a defaulting firm misses (main chain, month before default); far future if none."""
    never = risk.default_month >= NEVER
    month = np.where(never, 0, risk.default_month - 1)
    dstar = calendar.month_start(month) + (book.main_due_day - 1).astype("timedelta64[D]")
    return np.where(never, np.datetime64("9999-12-31"), dstar).astype("datetime64[D]")


@dataclass(frozen=True)
class Payments:
    """The payments table and the pre-default days past due it implies at month ends."""

    table: pd.DataFrame
    firm: I64  # firm index of each row
    late_firm: I64
    late_month: I64
    late_dpd: I64


def simulate_payments(
    pop: Population, calendar: Calendar, config: SimulationConfig, book: LoanBook, risk: RiskPath,
    dstar: npt.NDArray[np.datetime64],
) -> Payments:  # fmt: skip
    """Instalments due inside the window, paid on time, late, or (after default) not at all."""
    rng = stream(config.seed, "payments")
    m = calendar.months
    keep = book.disb_date < dstar[book.firm]  # no new loan once a firm has missed an instalment
    loans = np.flatnonzero(keep)
    d, term = book.disb_month[loans], book.term[loans]
    k_lo = np.maximum(1, -d)
    k_hi = np.minimum(term, m - 1 - d)
    count = np.maximum(k_hi - k_lo + 1, 0)
    row_loan = np.repeat(loans, count)
    offset = np.arange(row_loan.size) - np.repeat(np.cumsum(count) - count, count)
    k = np.repeat(k_lo, count) + offset
    due_month = book.disb_month[row_loan] + k
    due = calendar.month_start(due_month) + (book.due_day[row_loan] - 1).astype("timedelta64[D]")
    firm = book.firm[row_loan]
    disb = book.disb_date[row_loan]
    n = row_loan.size
    pre = due < dstar[firm]
    # before default: on time (up to 5 days early) or late by 1-28 days, more often for weak firms
    q = risk.quality[firm, due_month]
    late = rng.random(n) < sigmoid(-2.4 - 1.0 * q)
    late_days = np.minimum(1 + rng.geometric(1.0 / (2.0 + 6.0 * sigmoid(-q))), 28)
    offset_days = np.where(late, late_days, -rng.integers(0, 6, n))
    paid = np.maximum(due + offset_days.astype("timedelta64[D]"), disb)
    # from the missed instalment on: unpaid, except some recovered by collections > 90 days late
    recovered = (rng.random(n) < _RECOVERED) & (due > dstar[firm])
    paid_late = due + rng.integers(91, 241, n).astype("timedelta64[D]")
    paid = np.where(pre, paid, np.where(recovered, paid_late, np.datetime64("NaT")))
    paid = np.where(paid > calendar.last_day, np.datetime64("NaT"), paid)  # unknown at the snapshot
    is_paid = ~np.isnat(paid)
    amount_due = book.instalment[row_loan]
    month_end = calendar.month_end(due_month)
    open_at_end = pre & (~is_paid | (paid > month_end))
    table = pd.DataFrame(
        {
            "ruc": text_take(pop.ruc, firm),
            "loan_id": text_take(book.loan_id, row_loan),
            "due_date": pd.Series(due.astype("datetime64[us]")),
            "paid_date": pd.Series(paid.astype("datetime64[us]")),
            "amount_due": amount_due,
            "amount_paid": np.where(is_paid, amount_due, 0.0),
            "currency": text_take(_CURRENCIES, book.usd[row_loan].astype(np.int64)),
            "disbursement_date": pd.Series(disb.astype("datetime64[us]")),
        }
    )
    return Payments(
        table=table,
        firm=firm,
        late_firm=firm[open_at_end],
        late_month=due_month[open_at_end],
        late_dpd=(month_end - due)[open_at_end].astype(np.int64),
    )


def debt_by_month(pop: Population, calendar: Calendar, book: LoanBook, fx: ExchangeRates) -> tuple[F64, I64]:
    """Scheduled outstanding balance (PEN) and active loans per firm at each month end, months -2..M-1."""
    months = np.arange(-2, calendar.months)
    debt = np.zeros((pop.n, months.size))
    active_loans = np.zeros((pop.n, months.size), dtype=np.int64)
    growth = 1.0 + book.rate
    for j, t in enumerate(months):
        k = np.clip(t - book.disb_month, 0, book.term)
        active = (book.disb_month <= t) & (k < book.term)
        g = growth**k
        balance = np.maximum(book.principal * g - book.instalment * (g - 1.0) / book.rate, 0.0)
        rate = fx.on(np.array([calendar.month_end(t)]))[0]
        pen = np.where(book.usd, balance * rate, balance) * active
        debt[:, j] = np.bincount(book.firm, weights=pen, minlength=pop.n)
        active_loans[:, j] = np.bincount(book.firm, weights=active, minlength=pop.n).astype(np.int64)
    return debt, active_loans
