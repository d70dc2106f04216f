"""Labels: does the firm reach the default definition within the horizon after as_of?

- ``sbs``: a bureau month in the window (the months after as_of's month, ``horizon`` of them) with SBS
  rating Deficiente (2) or worse. Firms already rated >= 2 in their latest report before as_of are in
  default: not at risk, left out.
- ``basel``: an instalment whose 91st day past due (unpaid by then) falls in [as_of, window end).
  Firms with an instalment more than 90 days past due and still open at as_of are in default: left out.

A label needs its whole window to be observed: when the data end before the window does, or the firm has
no report in it (``sbs``), the label is missing (``<NA>``) and the row is kept out of training, never
counted as good.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pymescore.features._arrays import day_number, entity_codes, group_count, group_max, month_number
from pymescore.features._build import _table, as_timestamp
from pymescore.features._config import FeatureConfig


def label_data_end(tables: Mapping[str, pd.DataFrame], config: FeatureConfig | None = None) -> float:
    """How far the outcome data reach (the default definition's table: the last bureau month as a month number,
    or the last payment date as a day number; -inf without any): a window ending later is not wholly observed.
    The largest of a batch's parts is the whole batch's."""
    config = config or FeatureConfig()
    if config.default_definition == "sbs":
        months = month_number(_table(tables, "bureau_ratings")["month"])
        return float(months.max()) if len(months) else -np.inf
    payments = _table(tables, "payments")
    due, paid = day_number(payments["due_date"]), day_number(payments["paid_date"])
    known = np.concatenate([due[~np.isnan(due)], paid[~np.isnan(paid)]])
    return float(known.max()) if len(known) else -np.inf


def build_labels(
    tables: Mapping[str, pd.DataFrame],
    as_of: object,
    firms_rucs: np.ndarray,
    config: FeatureConfig | None = None,
    data_end: float | None = None,
) -> pd.DataFrame:
    """``ruc, default_12m (boolean, NA when not observable), label_window_end, in_default, window_complete`` per
    firm (``window_complete``: the data reach the window's end; a default seen early is a label without it).
    ``data_end`` (:func:`label_data_end` of the whole batch) when ``tables`` hold only a part of it."""
    config = config or FeatureConfig()
    ts = as_timestamp(as_of)
    rucs = np.asarray(firms_rucs, dtype=object)
    window_end = ts + pd.DateOffset(months=config.horizon_months)
    end = label_data_end(tables, config) if data_end is None else data_end
    if config.default_definition == "sbs":
        bureau = _table(tables, "bureau_ratings")
        label, observed, in_default, complete = _sbs(bureau, rucs, ts, config.horizon_months, end)
    else:
        label, observed, in_default, complete = _basel(_table(tables, "payments"), rucs, ts, window_end, end)
    return pd.DataFrame(
        {
            "ruc": rucs,
            "default_12m": pd.Series(label, dtype="boolean").mask(~observed).to_numpy(),
            "label_window_end": np.full(len(rucs), window_end.to_datetime64()),
            "in_default": in_default,
            "window_complete": complete,
        }
    )


def _sbs(
    bureau: pd.DataFrame, rucs: np.ndarray, ts: pd.Timestamp, horizon: int, data_end: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(rucs)
    codes = entity_codes(rucs, bureau["ruc"])
    months = month_number(bureau["month"])
    rating = bureau["sbs_rating"].to_numpy(dtype=np.float64)
    last = int(month_number(np.array([(ts - pd.Timedelta(days=1)).to_datetime64()]))[0])
    ok = codes >= 0
    before = ok & (months <= last)
    # latest report before as_of: rating of the max month per firm
    latest_month = group_max(codes[before], months[before].astype(np.float64), n)
    is_latest = before & (months == latest_month[np.where(codes >= 0, codes, 0)])
    latest_rating = group_max(codes[is_latest], rating[is_latest], n)
    in_default = np.nan_to_num(latest_rating, nan=0.0) >= 2
    window = ok & (months > last) & (months <= last + horizon)
    reported = group_count(codes[window], n) > 0
    defaulted = group_count(codes[window & (rating >= 2)], n) > 0
    complete = np.full(n, data_end >= last + horizon)
    observed = (reported & complete) | defaulted  # a default seen inside the window is a label even if data stop early
    return defaulted, observed, in_default, complete


def _basel(
    payments: pd.DataFrame, rucs: np.ndarray, ts: pd.Timestamp, window_end: pd.Timestamp, data_end: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(rucs)
    codes = entity_codes(rucs, payments["ruc"])
    due = day_number(payments["due_date"])
    paid = day_number(payments["paid_date"])
    a = float(day_number(np.array([ts.to_datetime64()]))[0])
    end = float(day_number(np.array([window_end.to_datetime64()]))[0])
    crossing = due + 91.0  # the first day at 91 days past due
    unpaid_at_crossing = np.isnan(paid) | (paid >= crossing)
    ok = codes >= 0
    open_at_as_of = np.isnan(paid) | (paid >= a)
    in_default = group_count(codes[ok & open_at_as_of & (crossing < a)], n) > 0
    event = ok & unpaid_at_crossing & (crossing >= a) & (crossing < end)
    defaulted = group_count(codes[event], n) > 0
    has_loans = group_count(codes[ok & (due < end)], n) > 0
    complete = np.full(n, data_end >= end - 1)
    observed = (has_loans & complete) | defaulted
    return defaulted, observed, in_default, complete


def known_outcomes(
    tables: Mapping[str, pd.DataFrame], rucs: np.ndarray, as_ofs: np.ndarray, data_end: float | None = None
) -> np.ndarray:
    """The 12-month outcome of each (ruc, as_of) pair, aligned to the input: 1.0 (default), 0.0 (good) or NaN
    (window not yet wholly observed, firm already in default, or as_of missing) — what monitoring's backtest and
    the regulator's bad rates join decisions to. Only whole windows count: a cohort still inside its window has
    shown its early defaults but not its goods, and would read as worse than it is. ``data_end``: the whole
    batch's :func:`label_data_end` when ``tables`` hold a part of it."""
    rucs = np.asarray(rucs, dtype=object)
    as_ofs = np.asarray(as_ofs, dtype=object)
    out = np.full(len(rucs), np.nan)
    for as_of in pd.unique(as_ofs[pd.notna(as_ofs)]):
        rows = np.flatnonzero(as_ofs == as_of)
        labels = build_labels(tables, as_of, pd.unique(rucs[rows]), data_end=data_end)
        whole = labels[labels["window_complete"]].dropna(subset=["default_12m"])
        known = whole.set_index("ruc")["default_12m"].astype(float)
        out[rows] = known.reindex(rucs[rows]).to_numpy(dtype=np.float64)
    return out
