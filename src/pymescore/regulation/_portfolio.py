"""A lender's portfolio as of a date, from the lake: each loan's days past due, SBS category, exposure and
provision; the debtors' credit types and aligned categories; month-over-month migration between categories;
vintage curves (share of each origination quarter ever reaching 30+ / 60+ / 90+ days past due by months on
book).

Point in time: at a date ``t`` an instalment is unpaid when it was not paid in full on or before ``t``
(``paid_date`` later than ``t``, missing, or a partial amount); it is past due when it fell due before ``t``.
A loan's days past due are those of its oldest unpaid instalment past due; its exposure is what is still
unpaid of every instalment (principal and interest: the payments table does not split them), in PEN.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pymescore.errors import InputError
from pymescore.regulation._classify import align, category, credit_types, provision_rates
from pymescore.regulation._rules import Regulation

CLOSED = "Cancelado"
DPD_THRESHOLDS = (30, 60, 90)


@dataclass
class Loans:
    """The payments table as arrays, one code per loan (ruc, loan_id)."""

    ruc: np.ndarray  # per loan
    loan_id: np.ndarray  # per loan
    disbursed: np.ndarray  # per loan, datetime64[D]
    code: np.ndarray  # per instalment: its loan
    due: np.ndarray  # datetime64[D]
    paid: np.ndarray  # datetime64[D], NaT unpaid
    due_pen: np.ndarray
    paid_pen: np.ndarray

    @classmethod
    def from_payments(cls, payments: pd.DataFrame) -> Loans:
        needed = ["ruc", "loan_id", "due_date", "paid_date", "amount_due_pen", "amount_paid_pen", "disbursement_date"]
        missing = [c for c in needed if c not in payments.columns]
        if missing:
            raise InputError(f"payments: expected the lake's columns {', '.join(needed)}, got none of "
                             f"{', '.join(missing)}; ingest the table with `pymescore ingest`")  # fmt: skip
        keys = pd.MultiIndex.from_arrays([payments["ruc"].astype(str), payments["loan_id"].astype(str)])
        codes, uniques = pd.factorize(keys)
        day = "datetime64[D]"
        due = payments["due_date"].to_numpy(dtype=day)
        disbursed_each = payments["disbursement_date"].to_numpy(dtype=day)
        first = np.full(len(uniques), np.datetime64("NaT"), dtype=day)
        # a loan's disbursement: its stated date, else its first instalment's due date
        start = np.where(np.isnat(disbursed_each), due, disbursed_each)
        order = np.lexsort((start.astype(np.int64), codes))
        seen = np.ones(len(order), dtype=bool)
        seen[1:] = codes[order][1:] != codes[order][:-1]
        first[codes[order][seen]] = start[order][seen]
        return cls(
            ruc=np.asarray(uniques.get_level_values(0), dtype=object),
            loan_id=np.asarray(uniques.get_level_values(1), dtype=object),
            disbursed=first,
            code=codes.astype(np.int64),
            due=due,
            paid=payments["paid_date"].to_numpy(dtype=day),
            due_pen=payments["amount_due_pen"].to_numpy(dtype=np.float64, na_value=np.nan),
            paid_pen=payments["amount_paid_pen"].to_numpy(dtype=np.float64, na_value=0.0),
        )

    @property
    def n(self) -> int:
        return len(self.ruc)

    def state(self, at: np.datetime64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(days past due, exposure in PEN, open) of every loan at ``at``."""
        settled = ~np.isnat(self.paid) & (self.paid <= at) & (self.paid_pen >= self.due_pen * (1 - 1e-9))
        paid_by_then = np.where(~np.isnat(self.paid) & (self.paid <= at), self.paid_pen, 0.0)
        owed = np.where(settled, 0.0, np.clip(np.nan_to_num(self.due_pen) - paid_by_then, 0.0, None))
        exposure = np.bincount(self.code, weights=owed, minlength=self.n)
        late = ~settled & (self.due < at)
        days = np.zeros(self.n, dtype=np.int64)
        np.maximum.at(days, self.code[late], (at - self.due[late]).astype(np.int64))
        open_ = (self.disbursed <= at) & (exposure > 0.005)
        return days, exposure, open_


def as_of_day(as_of: object) -> np.datetime64:
    """``as_of`` as a day; an unreadable date is the user's to fix."""
    try:
        stamp: pd.Timestamp | None = pd.Timestamp(as_of)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or pd.isna(stamp):
        raise InputError(f"--as-of: expected a date such as 2024-12-31, got {as_of!r}")
    return np.datetime64(stamp.date().isoformat(), "D")


def debtor_types(regulation: Regulation, rucs: np.ndarray, at: np.datetime64, flows: pd.DataFrame | None,
                 bureau: pd.DataFrame | None) -> tuple[list[str], np.ndarray]:  # fmt: skip
    """Each debtor's credit type (annual sales of the 12 months before ``at``; the system debt of the last 6
    months) and its bureau category of the last month reported before ``at`` (NaN when none)."""
    index = pd.Index(rucs)
    sales = np.full(len(rucs), np.nan)
    debt = np.full(len(rucs), np.nan)
    rating = np.full(len(rucs), np.nan)
    if flows is not None and len(flows):
        month = flows["month"].to_numpy(dtype="datetime64[D]")
        keep = (month < at) & (month >= at - np.timedelta64(365, "D"))
        part = flows.loc[keep]
        total = part.groupby(part["ruc"].astype(str))["income_pen"].sum()
        sales = total.reindex(index).to_numpy(dtype=np.float64, na_value=np.nan)
    if bureau is not None and len(bureau):
        month = bureau["month"].to_numpy(dtype="datetime64[D]")
        part = bureau.loc[(month < at) & (month >= at - np.timedelta64(183, "D"))]
        by = part.assign(ruc=part["ruc"].astype(str)).sort_values("month").groupby("ruc")
        debt = by["debt_total"].max().reindex(index).to_numpy(dtype=np.float64, na_value=np.nan)
        rating = by["sbs_rating"].last().reindex(index).to_numpy(dtype=np.float64, na_value=np.nan)
    return credit_types(regulation, sales, debt), rating


def loan_table(regulation: Regulation, loans: Loans, at: np.datetime64, flows: pd.DataFrame | None,
               bureau: pd.DataFrame | None, guarantee: str = "none") -> pd.DataFrame:  # fmt: skip
    """One row per loan open at ``at``: days past due, its own category, the debtor's aligned category (the
    worst of its loans, aligned to the bureau), exposure and provision."""
    days, exposure, open_ = loans.state(at)
    rows = np.flatnonzero(open_)
    rucs = loans.ruc[rows]
    debtors, which = np.unique(rucs.astype(str), return_inverse=True)
    types, bureau_rating = debtor_types(regulation, debtors, at, flows, bureau)
    loan_types = [types[k] for k in which]
    own = np.zeros(len(rows), dtype=np.int64)
    for t in set(loan_types):  # the category by the days past due of the debtor's credit type
        mine = np.array([lt == t for lt in loan_types], dtype=bool)
        own[mine] = category(regulation, days[rows][mine], t)
    worst = np.zeros(len(debtors), dtype=np.int64)
    np.maximum.at(worst, which, own)
    # the bureau's rating stands for the institutions holding >= 20% of the debt: the lake has no shares
    aligned = align(regulation, worst, bureau_rating[:, None], np.ones((len(debtors), 1)))
    debtor_category = aligned[which]
    rate = provision_rates(regulation, debtor_category, loan_types, guarantee)
    names = np.array(regulation.categories, dtype=object)
    return pd.DataFrame({
        "ruc": rucs.astype(str),
        "loan_id": loans.loan_id[rows].astype(str),
        "credit_type": loan_types,
        "days_past_due": days[rows],
        "loan_category": names[own],
        "bureau_category": [names[int(r)] if r == r else None for r in bureau_rating[which]],
        "sbs_category": names[debtor_category],
        "exposure_pen": np.round(exposure[rows], 2),
        "provision_rate": rate,
        "provision_pen": np.round(exposure[rows] * rate, 2),
    })  # fmt: skip


def summary(regulation: Regulation, table: pd.DataFrame) -> pd.DataFrame:
    """Loans, exposure and provisions by the debtors' category, in the regulation's order, with a total."""
    order = list(regulation.categories)
    grouped = table.groupby("sbs_category").agg(loans=("loan_id", "size"), exposure_pen=("exposure_pen", "sum"),
                                                provision_pen=("provision_pen", "sum"))  # fmt: skip
    out = grouped.reindex(order).fillna(0.0)
    out["loans"] = out["loans"].astype(int)
    out.loc["Total"] = [int(out["loans"].sum()), out["exposure_pen"].sum(), out["provision_pen"].sum()]
    out["loans"] = out["loans"].astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["provision_share"] = np.where(out["exposure_pen"] > 0, out["provision_pen"] / out["exposure_pen"], 0.0)
    return out.rename_axis("sbs_category").reset_index()


def month_ends(at: np.datetime64, months: int) -> list[np.datetime64]:
    """The ``months`` month ends before ``at`` and ``at`` itself, oldest first."""
    first_of = at.astype("datetime64[M]")
    ends = [(first_of - k + 1).astype("datetime64[D]") - np.timedelta64(1, "D") for k in range(months, 0, -1)]
    return [*ends, at]


def migration(regulation: Regulation, loans: Loans, at: np.datetime64, months: int = 12) -> pd.DataFrame:
    """The share of loans in each category at a month end that are in each category (or cancelled) at the
    next, pooled over the ``months`` months before ``at``; each row with loans sums to 1."""
    return migration_table(regulation, migration_counts(regulation, loans, at, months))


def migration_counts(regulation: Regulation, loans: Loans, at: np.datetime64, months: int = 12) -> np.ndarray:
    """The moves behind :func:`migration`, counted (category × category-or-cancelled): parts of a portfolio add
    up."""
    states = [loans.state(t) for t in month_ends(at, months)]
    k = len(regulation.categories)
    counts = np.zeros((k, k + 1))
    for (d0, _e0, o0), (d1, _e1, o1) in itertools.pairwise(states):
        # the retail table reads every loan here: migration is a portfolio-wide view of days past due
        c0 = category(regulation, d0, "pequena_empresa")
        c1 = np.where(o1, category(regulation, d1, "pequena_empresa"), k)  # not open any more: cancelled
        np.add.at(counts, (c0[o0], c1[o0]), 1)
    return counts


def migration_table(regulation: Regulation, counts: np.ndarray) -> pd.DataFrame:
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    frame = pd.DataFrame(shares, columns=[*regulation.categories, CLOSED], index=list(regulation.categories))
    frame.insert(0, "loans", counts.sum(axis=1).astype(int))
    return frame.rename_axis("from").reset_index()


def vintages(loans: Loans, at: np.datetime64, max_months: int = 24) -> pd.DataFrame:
    """Per origination quarter and months on book (1..``max_months``): the share of its loans that had
    reached 30+, 60+ and 90+ days past due by then (only months on book already observed at ``at``)."""
    return vintage_table(vintage_counts(loans, at, max_months))


def vintage_counts(loans: Loans, at: np.datetime64, max_months: int = 24) -> pd.DataFrame:
    """The counts behind :func:`vintages` (cohort, months_on_book, loans observed, and how many had reached each
    threshold): parts of a portfolio add up. A loan is observed at a month on book up to ``at``, so a cohort's
    counts only fall with the months on book; rows with no loan observed are left out."""
    columns = ["cohort", "months_on_book", "loans", *[f"n_{d}_plus" for d in DPD_THRESHOLDS]]
    if loans.n == 0:
        return pd.DataFrame(columns=columns)
    start_month = loans.disbursed.astype("datetime64[M]")
    first = start_month.min()
    last = at.astype("datetime64[M]")
    worst = np.zeros((loans.n, max_months + 1), dtype=np.int64)  # worst DPD by months on book
    running = np.zeros(loans.n, dtype=np.int64)
    span = int((last - first).astype(np.int64))
    by_month = {}
    for m in range(span + 1):
        end = ((first + m + 1).astype("datetime64[D]") - np.timedelta64(1, "D")) if first + m < last else at
        by_month[m] = loans.state(end)[0]
    offset = (start_month - first).astype(np.int64)
    for mob in range(1, max_months + 1):
        month = offset + mob - 1  # the calendar month (from ``first``) of this month on book
        seen = month <= span
        days = np.zeros(loans.n, dtype=np.int64)
        for m in np.unique(month[seen]).tolist():
            rows = seen & (month == m)
            days[rows] = by_month[m][rows]
        running = np.maximum(running, days)
        worst[:, mob] = np.where(seen, running, -1)
    quarter = pd.PeriodIndex(pd.DatetimeIndex(loans.disbursed.astype("datetime64[ns]")), freq="Q").astype(str)
    rows = []
    for cohort in sorted(set(quarter)):
        members = np.asarray(quarter == cohort)
        for mob in range(1, max_months + 1):
            w = worst[members, mob]
            w = w[w >= 0]
            if len(w) == 0:
                break
            rows.append([cohort, mob, len(w), *[int((w >= d).sum()) for d in DPD_THRESHOLDS]])
    return pd.DataFrame(rows, columns=columns)


def vintage_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Shares from :func:`vintage_counts` (of one portfolio, or of its parts stacked)."""
    columns = ["cohort", "months_on_book", "loans", *[f"ever_{d}_plus" for d in DPD_THRESHOLDS]]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    total = counts.groupby(["cohort", "months_on_book"], sort=True).sum().reset_index()
    loans = total["loans"].to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            "cohort": total["cohort"].astype(str).to_numpy(dtype=object),
            "months_on_book": total["months_on_book"].to_numpy(dtype=np.int64),
            "loans": loans,
        }
    )
    for d in DPD_THRESHOLDS:
        out[f"ever_{d}_plus"] = total[f"n_{d}_plus"].to_numpy(dtype=np.int64) / loans
    return out
