"""Reject inference: how rejected applications (rows without an outcome because the lender made no loan) enter
training. A model fitted on approved loans alone learns the population an earlier policy let through; each method
here is a way to let the rejected applications speak for the rest of the population, each on an assumption:

- ``none``: approved loans only; the rejected rows are left out and counted.
- ``augmentation`` (re-weighting): an accept/reject model gives each approved loan its probability of approval;
  each is weighted by its inverse (floored at ``ACCEPT_FLOOR``), normalised so that the weights add up to the
  applications (approved + rejected): the approved loans then stand for the whole through-the-door population.
  No reject row is added. Assumes approval depends only on the features (missing at random).
- ``fuzzy`` (fuzzy augmentation): the approved-only model's PD ``p`` of each reject; the reject enters twice, as a
  default with weight ``p`` and as a good with weight ``1 - p`` (its weights add up to 1).
- ``parcelling``: the approved loans' out-of-fold PDs cut into ``PARCEL_BANDS`` bands of equal count; the rejects
  in a band are labelled bad at the band's observed bad rate times ``factor`` (capped at 1; the count rounded,
  the rejects picked at random), good otherwise. ``factor`` > 1 says that a reject is riskier than an approved
  loan with the same score: the old policy saw something the model does not.
- ``hardcutoff`` (extrapolation with a hard cut-off): the ``round(factor · Σ p)`` rejects with the highest
  approved-only PD are labelled bad, the others good.

The out-of-time test and every validation figure stay on known outcomes (``_split.extend_folds``); the
approved-only model is the same training without the rejects (``TrainConfig(reject_inference="none")``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pymescore.model import _xgb
from pymescore.model._preprocess import Preprocessor
from pymescore.model._split import folds
from pymescore.model._typing import ColumnType

#: augmentation: probabilities of approval below this are raised to it (a weight at most 1/floor, then normalised)
ACCEPT_FLOOR = 0.05
#: parcelling: score bands of equal count of approved loans
PARCEL_BANDS = 10


@dataclass(frozen=True)
class Inferred:
    """What a method gives training: the reject rows it adds (positions into the rejects given; a fuzzy reject
    twice), their labels and weights, the known rows' weights (None: 1 each) and the record of it all."""

    reject_rows: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    known_weight: np.ndarray | None
    record: dict[str, Any] = field(default_factory=dict)


def weight_summary(w: np.ndarray) -> dict[str, Any]:
    """Count, sum, mean, min and max of weights (JSON-ready); the effective size (Σw)²/Σw² too."""
    if not len(w):
        return {"n": 0, "sum": 0.0}
    return {"n": len(w), "sum": float(w.sum()), "mean": float(w.mean()), "min": float(w.min()),
            "max": float(w.max()), "effective_n": float(w.sum() ** 2 / max(float((w**2).sum()), 1e-12))}  # fmt: skip


def fuzzy(pd_reject: np.ndarray) -> Inferred:
    """Each reject twice: bad with weight ``p``, good with weight ``1 - p`` (``p``: the approved-only PD)."""
    p = np.clip(np.asarray(pd_reject, dtype=np.float64), 0.0, 1.0)
    n = len(p)
    rows = np.concatenate([np.arange(n), np.arange(n)])
    y = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)])
    weight = np.concatenate([p, 1.0 - p])
    record = {"rejects_used": n, "rows_added": 2 * n, "reject_weights": weight_summary(weight),
              "inferred_bad_rate": float(p.mean()) if n else None}  # fmt: skip
    return Inferred(rows, y, weight, None, record)


def parcel(
    pd_known: np.ndarray, y_known: np.ndarray, pd_reject: np.ndarray, factor: float, seed: int,
    bands: int = PARCEL_BANDS,
) -> Inferred:  # fmt: skip
    """Rejects labelled bad at their score band's bad rate among approved loans times ``factor`` (see module)."""
    pd_known = np.asarray(pd_known, dtype=np.float64)
    y_known = np.asarray(y_known, dtype=np.int64)
    pd_reject = np.asarray(pd_reject, dtype=np.float64)
    edges = np.unique(np.quantile(pd_known, np.linspace(0, 1, bands + 1)[1:-1])) if len(pd_known) else np.zeros(0)
    band_known = np.searchsorted(edges, pd_known, side="right")
    band_reject = np.searchsorted(edges, pd_reject, side="right")
    rng = np.random.default_rng(seed)
    y = np.zeros(len(pd_reject), dtype=np.int64)
    table = []
    for b in range(len(edges) + 1):
        inside = np.flatnonzero(band_reject == b)
        known = band_known == b
        rate = float(y_known[known].mean()) if known.any() else float(y_known.mean()) if len(y_known) else 0.0
        target = min(1.0, factor * rate)
        bad = round(target * len(inside))
        y[rng.choice(inside, bad, replace=False)] = 1
        table.append({"band": b, "pd_from": float(edges[b - 1]) if b else 0.0,
                      "pd_to": float(edges[b]) if b < len(edges) else 1.0, "approved": int(known.sum()),
                      "approved_bad_rate": rate, "rejects": len(inside), "assigned_bad_rate": target,
                      "rejects_bad": bad})  # fmt: skip
    weight = np.ones(len(pd_reject))
    record = {"rejects_used": len(pd_reject), "rows_added": len(pd_reject), "reject_weights": weight_summary(weight),
              "inferred_bad_rate": float(y.mean()) if len(y) else None, "factor": float(factor),
              "bands": table}  # fmt: skip
    return Inferred(np.arange(len(pd_reject)), y, weight, None, record)


def hard_cutoff(pd_reject: np.ndarray, factor: float) -> Inferred:
    """The ``round(factor · Σ p)`` rejects with the highest approved-only PD bad, the rest good (see module)."""
    p = np.asarray(pd_reject, dtype=np.float64)
    bad = min(len(p), round(factor * float(p.sum())))
    y = np.zeros(len(p), dtype=np.int64)
    y[np.argsort(-p, kind="stable")[:bad]] = 1
    threshold = float(np.sort(p)[::-1][bad - 1]) if bad else None
    weight = np.ones(len(p))
    record = {"rejects_used": len(p), "rows_added": len(p), "reject_weights": weight_summary(weight),
              "inferred_bad_rate": float(y.mean()) if len(y) else None, "factor": float(factor),
              "pd_cutoff": threshold}  # fmt: skip
    return Inferred(np.arange(len(p)), y, weight, None, record)


def augmentation(p_accept_known: np.ndarray, n_rejects: int) -> Inferred:
    """Known rows weighted by 1 / P(approval) (floored), the weights adding up to the applications (see module)."""
    p = np.maximum(np.asarray(p_accept_known, dtype=np.float64), ACCEPT_FLOOR)
    raw = 1.0 / p
    weight = raw * (len(p) + n_rejects) / raw.sum() if len(p) else raw
    record = {"rejects_used": n_rejects, "rows_added": 0, "approved_weights": weight_summary(weight),
              "accept_floor": ACCEPT_FLOOR, "floored": int((np.asarray(p_accept_known) < ACCEPT_FLOOR).sum()),
              "accept_model": "XGBoost at its default parameters, approved against rejected, out of fold by "
              "group"}  # fmt: skip
    return Inferred(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), weight, record)


def accept_probability(
    types: list[ColumnType], X_known: pd.DataFrame, X_reject: pd.DataFrame, g_known: np.ndarray,
    g_reject: np.ndarray, k: int, seed: int, grouped: bool, n_jobs: int = 1,
) -> np.ndarray:  # fmt: skip
    """Each known row's probability of approval, out of fold (folds by group when ``grouped``): an XGBoost at its
    default parameters, approved (1) against rejected (0), on every row given."""
    X = pd.concat([X_known, X_reject], ignore_index=True)
    accepted = np.concatenate([np.ones(len(X_known), dtype=np.int64), np.zeros(len(X_reject), dtype=np.int64)])
    groups = np.concatenate([np.asarray(g_known, dtype=str), np.asarray(g_reject, dtype=str)])
    out = np.full(len(X), np.nan)
    for train, valid in folds(accepted, groups, k, seed, grouped):
        pre = Preprocessor(types, seed)
        X_train = pre.fit_transform(X.iloc[train], accepted[train])
        booster = _xgb.fit_booster(X_train, accepted[train], _xgb.DEFAULT_PARAMS, {}, 1.0, seed, n_jobs=n_jobs,
                                   groups=groups[train] if grouped else None)  # fmt: skip
        out[valid] = 1.0 / (1.0 + np.exp(-_xgb.margin(booster, pre.transform(X.iloc[valid]))))
    return out[: len(X_known)]


def reject_record(
    asked: str, n: int, usable: np.ndarray, left_out: dict[str, int], inferred: dict[str, Any] | None
) -> dict[str, Any]:
    """What the training report, the bundle and the model card say of the ``n`` rejected applications
    (``inferred``: the method's own record, None when none was applied)."""
    out: dict[str, Any] = {"method": asked if inferred is not None else "none", "asked": asked, "rejects_in_table": n,
                           "rejects_for_development": int(usable.sum()), "rejects_left_out": left_out}  # fmt: skip
    if inferred is None:
        out["rejects_used"] = 0
        out["why"] = ("no rejected applications in the development period" if asked != "none"
                      else "approved loans only: the rejected applications are left out")  # fmt: skip
        return out
    return out | inferred


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """The record without its per-band table (the bundle's model metadata)."""
    return {k: v for k, v in record.items() if k != "bands"}
