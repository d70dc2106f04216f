"""Monthly histories for the sequence model: per firm and observation date, the last 36 months of income and
expenses (PEN), days past due, SBS rating and system debt, each with a mask of the months it was observed.

Built by the features' own point-in-time code from the same arrays: the cash-flow and bureau panels that the
features read (``CashflowPanel``, ``BureauPanel``, over a 36-month window ending in the month before ``as_of``)
and a monthly days-past-due panel from ``payments`` with the payment features' rule (an instalment counts once it
falls due, a payment once it is made, both before ``as_of``). Nothing dated on or after ``as_of`` is read.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pymescore.features._arrays import Arrays, day_number, month_number
from pymescore.features._bureau import BureauPanel
from pymescore.features._cashflow import CashflowPanel

#: months of history per observation, oldest first (the last is the month before as_of's)
SEQUENCE_MONTHS = 36
#: the values, then their masks (1 where the month was observed)
VALUE_CHANNELS = ("income_pen", "expenses_pen", "dpd", "sbs_rating", "debt_total")
MASK_CHANNELS = ("has_cashflow", "has_instalment", "has_bureau")
CHANNELS = VALUE_CHANNELS + MASK_CHANNELS
#: which mask tells whether each value channel was observed
MASK_OF = {"income_pen": "has_cashflow", "expenses_pen": "has_cashflow", "dpd": "has_instalment",
           "sbs_rating": "has_bureau", "debt_total": "has_bureau"}  # fmt: skip
#: the snapshot's column of each channel (a list of SEQUENCE_MONTHS numbers per row)
SEQUENCE_COLUMNS = tuple(f"seq_{c}" for c in CHANNELS)
#: the reasons of the sequence model's attributions to each channel's history (Spanish, English)
HISTORY_REASONS: dict[str, tuple[str, str]] = {
    "seq_income_pen": ("Trayectoria de ingresos de los últimos 36 meses", "Income over the last 36 months"),
    "seq_expenses_pen": ("Trayectoria de egresos de los últimos 36 meses", "Expenses over the last 36 months"),
    "seq_dpd": ("Atrasos mes a mes en los últimos 36 meses", "Days past due month by month over the last 36 months"),
    "seq_sbs_rating": ("Calificación SBS mes a mes en los últimos 36 meses", "SBS rating month by month over the last "
                       "36 months"),
    "seq_debt_total": ("Deuda en el sistema en los últimos 36 meses", "System debt over the last 36 months"),
    "seq_has_cashflow": ("Meses con flujo de caja registrado", "Months with recorded cash flows"),
    "seq_has_instalment": ("Meses con cuotas de préstamos", "Months with loan instalments"),
    "seq_has_bureau": ("Meses con reporte en la central de riesgos", "Months reported to the credit bureau"),
}  # fmt: skip


def monthly_dpd(payments: Arrays, n: int, as_of: pd.Timestamp, last_month: int, window: int) -> np.ndarray:
    """Per firm and month of the window: the most days past due any instalment reached in that month — an
    instalment still open at the month's end (or at as_of) counts the days since it fell due, one paid during the
    month (or ahead, in the month it fell due) the days it was late; NaN for a month in which no instalment fell
    due or stayed open."""
    first = last_month - window + 1
    a = float(day_number(np.array([as_of.to_datetime64()]))[0])
    codes = np.asarray(payments["entity"], dtype=np.int64)
    due = day_number(payments["due_date"])
    paid = day_number(payments["paid_date"])
    keep = (codes >= 0) & (due < a)
    codes, due, paid = codes[keep], due[keep], paid[keep]
    # each month's end (exclusive), as a day number, capped at as_of: a payment on or after as_of (not known yet)
    # leaves its instalment open in every month
    ends = np.minimum(day_number((np.arange(first, first + window + 1) + 1).astype("datetime64[M]")), a)
    starts = day_number(np.arange(first, first + window).astype("datetime64[M]"))
    out = np.full(n * window, -np.inf)
    due_month = month_number(due.astype(np.int64).astype("datetime64[D]")) - first
    # month k of the window, for each instalment from the month it fell due until the month it was paid
    k = np.maximum(due_month, 0)
    alive = k < window
    while alive.any():
        i = np.flatnonzero(alive)
        end = ends[k[i]]
        open_at_end = np.isnan(paid[i]) | (paid[i] >= end)
        paid_in = ~open_at_end & (paid[i] >= starts[k[i]])
        late = np.where(open_at_end, end - due[i], np.maximum(paid[i] - due[i], 0.0))
        counts = open_at_end | paid_in | (k[i] == due_month[i])  # its due month counts, even paid ahead
        np.maximum.at(out, codes[i[counts]] * window + k[i[counts]], late[counts])
        k[i] += 1
        alive[i] = open_at_end & (k[i] < window)
    out[np.isneginf(out)] = np.nan
    return out.reshape(n, window)


def sequence_arrays(tables: Mapping[str, Arrays], n: int, as_of: pd.Timestamp) -> np.ndarray:
    """The histories of ``n`` entities (``build_feature_arrays``' arrays): n × SEQUENCE_MONTHS × CHANNELS,
    float32, values NaN where not observed, masks 0/1."""
    last_month = int(month_number(np.array([(as_of - pd.Timedelta(days=1)).to_datetime64()]))[0])
    cash = CashflowPanel(tables["monthly_cashflows"], n, last_month, SEQUENCE_MONTHS)
    bureau = BureauPanel(tables["bureau_ratings"], n, last_month, SEQUENCE_MONTHS)
    dpd = monthly_dpd(tables["payments"], n, as_of, last_month, SEQUENCE_MONTHS)
    values = {"income_pen": cash.income, "expenses_pen": cash.expenses, "dpd": dpd, "sbs_rating": bureau.rating,
              "debt_total": bureau.debt}  # fmt: skip
    masks = {"has_cashflow": ~np.isnan(cash.income) | ~np.isnan(cash.expenses), "has_instalment": ~np.isnan(dpd),
             "has_bureau": ~np.isnan(bureau.rating) | ~np.isnan(bureau.debt)}  # fmt: skip
    out = np.empty((n, SEQUENCE_MONTHS, len(CHANNELS)), dtype=np.float32)
    for c, name in enumerate(CHANNELS):
        out[:, :, c] = values[name] if name in values else masks[name]
    return out


def history_channel(column: str) -> int:
    """The channel of a snapshot's ``seq_*`` column in :func:`sequence_arrays`' last axis."""
    if column not in SEQUENCE_COLUMNS:
        from pymescore.errors import ConfigError

        raise ConfigError(f"a sequence model's history: expected one of {', '.join(SEQUENCE_COLUMNS)}, got {column!r}")
    return SEQUENCE_COLUMNS.index(column)


def sequence_columns(sequences: np.ndarray) -> dict[str, list[np.ndarray]]:
    """The histories as the snapshot's columns: per channel, one array of SEQUENCE_MONTHS numbers per row."""
    return {col: list(sequences[:, :, c]) for c, col in enumerate(SEQUENCE_COLUMNS)}


def sequences_of(frame: pd.DataFrame) -> np.ndarray | None:
    """The histories a snapshot holds (its ``seq_*`` columns), n × SEQUENCE_MONTHS × CHANNELS; None without them."""
    if not set(SEQUENCE_COLUMNS) <= set(frame.columns):
        return None
    out = np.empty((len(frame), SEQUENCE_MONTHS, len(CHANNELS)), dtype=np.float32)
    for c, col in enumerate(SEQUENCE_COLUMNS):
        out[:, :, c] = np.stack([np.asarray(v, dtype=np.float32) for v in frame[col]]) if len(frame) else 0.0
    return out
