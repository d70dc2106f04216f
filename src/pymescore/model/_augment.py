"""The development rows of a training with reject inference: the known outcomes first, then copies of the rejects
as the method labels them (``_reject``), arranged so that no inferred label carries the outcome of a row it is
validated against.

A reject's label comes from the approved-only model, which learnt from known outcomes. Labelled once by the
model fitted on every development row, the rejects would carry each validation fold's outcomes into that fold's
training: the out-of-fold figures (and the blend and calibration chosen on them) would flatter the model. So the
rejects are labelled per fold:

- fold ``k`` fits the known rows of its training and the rejects outside fold ``k`` (``_split.extra_folds``: a
  reject's group never straddles a fold), labelled by the approved-only model of fold ``k``, which never saw fold
  ``k``'s outcomes;
- fold ``k`` also scores the rejects inside it, labelled by that same fold model: these out-of-fold rows join the
  known ones in fitting the calibrator (the PD scale learns the whole population, not the approved one alone);
- the final fit takes the known rows and every reject labelled by the final approved-only model.

Validation figures (fold AUCs, the blend's weights) read the known rows only. Augmentation adds no row: it weighs
the known rows (its accept/reject model sees approvals, never outcomes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pymescore.errors import PymescoreError
from pymescore.model._config import TrainConfig
from pymescore.model._data import Rejects, column_types
from pymescore.model._domain import Domain
from pymescore.model._reject import Inferred, accept_probability, augmentation, fuzzy, hard_cutoff, parcel
from pymescore.model._split import extra_folds

if TYPE_CHECKING:
    from pymescore.model._train import TrainResult

Splits = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Augmented:
    """Rows ``0..n_known-1`` are the known development rows; each row after them is a copy of the reject
    ``reject_rows[i]`` (its position among the development rejects). ``y`` and ``weight`` cover every row;
    ``splits`` are the folds over them; ``calibration`` the rows the calibrator fits (out-of-fold margins),
    ``final`` the rows of the final fit; ``record`` what the model card says (the final labelling's)."""

    n_known: int
    reject_rows: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    splits: Splits
    calibration: np.ndarray
    final: np.ndarray
    record: dict[str, Any]


def label(
    method: str, pd_reject: np.ndarray, pd_known: np.ndarray, y_known: np.ndarray, factor: float, seed: int
) -> Inferred:
    """Labels of rejects by ``method`` (fuzzy, parcelling, hardcutoff) from their approved-only PDs; parcelling's
    bands come from the approved rows' (out-of-fold) PDs and outcomes."""
    if method == "fuzzy":
        return fuzzy(pd_reject)
    if method == "parcelling":
        return parcel(pd_known, y_known, pd_reject, factor, seed)
    if method == "hardcutoff":
        return hard_cutoff(pd_reject, factor)
    from pymescore.errors import ConfigError

    raise ConfigError(f"reject inference: expected fuzzy, parcelling or hardcutoff to label rejects, got {method!r}")


def reweighted(splits: Splits, y_known: np.ndarray, p_accept: np.ndarray, n_rejects: int) -> Augmented:
    """Augmentation: the known rows alone, weighted by 1 / P(approval)."""
    inferred = augmentation(p_accept, n_rejects)
    n = len(y_known)
    weight = inferred.known_weight if inferred.known_weight is not None else np.ones(n)
    every = np.arange(n)
    return Augmented(n, np.zeros(0, dtype=np.int64), np.asarray(y_known, dtype=np.int64), weight, splits, every,
                     every, inferred.record)  # fmt: skip


def relabelled(
    method: str, factor: float, seed: int, splits: Splits, y_known: np.ndarray, fold_of: np.ndarray,
    pd_known_oof: np.ndarray, pd_fold: np.ndarray, pd_final: np.ndarray,
) -> Augmented:  # fmt: skip
    """Fuzzy, parcelling or the hard cut-off, per fold as the module says. ``fold_of``: each reject's fold;
    ``pd_fold`` (folds × rejects): the approved-only fold models' PDs; ``pd_final``: the final approved-only PDs;
    ``pd_known_oof``: the approved-only out-of-fold PDs of the known rows (parcelling's bands)."""
    n = len(y_known)
    y_known = np.asarray(y_known, dtype=np.int64)
    rows: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    at = [n]

    def add(rejects: np.ndarray, inferred: Inferred) -> np.ndarray:
        """Append ``inferred``'s rows (over ``rejects``, positions into every reject); their row positions."""
        rows.append(rejects[inferred.reject_rows])
        ys.append(np.asarray(inferred.y, dtype=np.int64))
        ws.append(np.asarray(inferred.weight, dtype=np.float64))
        placed = np.arange(at[0], at[0] + len(inferred.reject_rows))
        at[0] += len(inferred.reject_rows)
        return placed

    extended: Splits = []
    scored: list[np.ndarray] = []
    for k, (train, valid) in enumerate(splits):
        outside, inside = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        fitted = add(outside, label(method, pd_fold[k, outside], pd_known_oof[train], y_known[train], factor,
                                    seed + k))  # fmt: skip
        own = add(inside, label(method, pd_fold[k, inside], pd_known_oof[train], y_known[train], factor, seed + k))
        extended.append((np.concatenate([train, fitted]), np.concatenate([valid, own])))
        scored.append(own)
    every = np.arange(len(fold_of))
    final = label(method, pd_final, pd_known_oof, y_known, factor, seed)
    final_rows = add(every, final)
    return Augmented(
        n_known=n,
        reject_rows=np.concatenate(rows).astype(np.int64),
        y=np.concatenate([y_known, *ys]),
        weight=np.concatenate([np.ones(n), *ws]),
        splits=extended,
        calibration=np.concatenate([np.arange(n), *scored]),
        final=np.concatenate([np.arange(n), final_rows]),
        record=final.record,
    )


def infer_rejects(
    cfg: TrainConfig, rejects: Rejects, rows: np.ndarray, X_dev: pd.DataFrame, y_dev: np.ndarray,
    g_dev: np.ndarray, splits: Splits, say: Callable[[str], object], domain: Domain | None,
    approved_only: TrainResult | Callable[[], TrainResult],
) -> Augmented:  # fmt: skip
    """Reject inference on the development rejects ``rows`` (positions into ``rejects``) by the method
    ``cfg.reject_inference`` names (``cfg``: the training's config as the table's domain completed it); the known
    development rows are ``X_dev, y_dev, g_dev`` and their folds ``splits``. Fuzzy, parcelling and the hard
    cut-off start from ``approved_only`` (a training without the rejects on the same rows and folds whose fold
    models scored every reject; a callable is called to train it), its fold models labelling each fold's rejects.
    Augmentation fits its accept/reject model instead."""
    X_r, g_r = rejects.X.iloc[rows].reset_index(drop=True), rejects.groups[rows]
    if cfg.reject_inference == "augmentation":
        say("reject inference: accept/reject model")
        types = column_types(pd.concat([X_dev, X_r], ignore_index=True), domain, cfg.max_categories)
        p_accept = accept_probability(types, X_dev, X_r, g_dev, g_r, cfg.folds, cfg.seed, cfg.group_col is not None,
                                      cfg.n_jobs)  # fmt: skip
        return reweighted(splits, y_dev, p_accept, len(X_r))
    inner = approved_only() if callable(approved_only) else approved_only
    same = [int(f["rows"]) for f in inner.report["cv"]["folds"]] == [len(va) for _, va in splits]
    fold_pd = inner.extra_fold_pd
    if (
        inner.oof is None
        or fold_pd is None
        or fold_pd.shape[1] != len(rejects.X)
        or len(inner.oof) != len(y_dev)
        or not np.array_equal(inner.oof["y"].to_numpy(), y_dev)
        or not same
    ):
        raise PymescoreError("reject inference: expected the approved-only training to develop on the same rows and "
                             "folds as this one and to score every rejected row, got another")  # fmt: skip
    pd_final = inner.model.predict_pd(X_r)
    fold_of = extra_folds(splits, g_dev, g_r, cfg.seed)
    aug = relabelled(cfg.reject_inference, cfg.reject_factor, cfg.seed, splits, y_dev, fold_of,
                     inner.oof["pd"].to_numpy(), fold_pd[:, rows], pd_final)  # fmt: skip
    test = inner.report.get("test_metrics") or {}
    aug.record["approved_only"] = {"cv_auc": inner.report["cv"]["mean_auc"], "test_auc": test.get("auc"),
                                   "mean_pd_rejects": float(np.mean(pd_final)) if len(pd_final) else None}  # fmt: skip
    return aug
