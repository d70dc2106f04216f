"""The out-of-fold stage of training: each chosen family's out-of-fold margins on the development folds, what
the blend weights and the calibrator are then chosen on (``_train``).

The untuned families come first (the scorecard, the logistic regression, LightGBM, the networks): their time is
then known when XGBoost's tuning gets its share of ``--time-budget``; XGBoost is tuned on known outcomes only, on
another fold partition than its out-of-fold fits (``Boosting.tune``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from pymescore.model import _lgbm
from pymescore.model._blend import FAMILIES, auc
from pymescore.model._development import Development, Progress
from pymescore.model._linear import Linear
from pymescore.model._oof import additive_oof, network_oof, xgb_oof
from pymescore.model._scorecard import Scorecard


class OutOfFold(NamedTuple):
    margins: dict[str, np.ndarray]  # by family (FAMILIES): each development row's out-of-fold margin; NaN if unused
    #: by family: each fold's margins of the extra rows (``train(score_extra=...)``), folds × rows
    extra: dict[str, np.ndarray]
    history: list[dict[str, Any]]  # XGBoost's tuning trials
    comparison: dict[str, float | None] | None  # SMOTE against scale_pos_weight, when SMOTE is used


def _steps(say: Progress, stage: str) -> Callable[[int, int], None]:
    """The steps (folds) of ``stage``, told to ``say``."""
    return lambda done, total: say(stage, done, total)


def out_of_fold(
    d: Development, use: dict[str, bool], n_extra: int, started: float, timings: dict[str, float], say: Progress
) -> OutOfFold:
    """The out-of-fold margins of the families ``use`` names, each family's seconds added to ``timings``;
    ``started``: when the run began (``time.perf_counter``), from which ``cfg.time_budget`` counts."""
    cfg, y_dev, model_mono, boosting = d.cfg, d.y, d.monotone, d.boosting
    workers = cfg.workers or max(1, min(os.cpu_count() or 1, cfg.folds))
    xgb_workers = 1 if boosting.client is not None else workers  # on a cluster each fold's booster uses all of it
    extra = {name: np.full((cfg.folds, n_extra), np.nan) for name in FAMILIES}
    comparison: dict[str, float | None] | None = None
    oof = {name: np.full(len(y_dev), np.nan) for name in FAMILIES}
    history: list[dict[str, Any]] = []
    # the untuned families first: their time is then known when tuning's share of the budget is set
    for name, family in (("scorecard", Scorecard), ("logistic", Linear)):
        if not use[name]:
            continue
        t = time.perf_counter()
        stage = f"out-of-fold {name} ({cfg.folds} folds)"
        say(stage)
        oof[name] = additive_oof(family, d.small_folds, model_mono, cfg.seed, len(y_dev), _steps(say, stage),
                                 extra[name])  # fmt: skip
        timings[f"oof_{name}"] = time.perf_counter() - t
    if use["lightgbm"]:
        t = time.perf_counter()
        stage = f"out-of-fold LightGBM ({cfg.folds} folds)"
        say(stage)
        oof["lightgbm"] = xgb_oof(d.small_folds, lambda f: _lgbm.fit_booster(f.X_train, f.y_train, model_mono,
                                                                            cfg.seed, cfg.n_jobs, weight=f.w_train),
                                  workers, len(y_dev), _steps(say, stage), margin=_lgbm.margin,
                                  extra_out=extra["lightgbm"])  # fmt: skip
        timings["oof_lightgbm"] = time.perf_counter() - t
    for name, label in (("tf_mlp", "TensorFlow MLP"), ("tf_sequence", "TensorFlow sequence model")):
        if not use[name]:
            continue
        t = time.perf_counter()
        stage = f"out-of-fold {label} ({cfg.folds} folds)"
        say(stage)
        sequence = name == "tf_sequence"
        oof[name] = network_oof(d.folds, lambda f, s=sequence: d.fit_network(f.X_train, f.y_train, f.train, s),  # type: ignore[misc]
                                len(y_dev), _steps(say, stage), d.sequences if sequence else None)  # fmt: skip
        timings[f"oof_{name}"] = time.perf_counter() - t
    if use["xgboost"]:
        t = time.perf_counter()
        # --time-budget bounds the whole run: tuning ends in time for the out-of-fold and final XGBoost fits
        # (measured on its first trial), the untuned families' final fits and the bundle's last steps
        later = 1.5 * sum(timings.get(f"oof_{n}", 0.0) for n in FAMILIES if n != "xgboost") / cfg.folds
        deadline = started + cfg.time_budget - later - 0.05 * cfg.time_budget
        stage = f"tuning XGBoost ({cfg.trials} trials at most; the whole run within {cfg.time_budget:.0f} s)"
        say(stage)
        known = slice(0, d.n_known)
        X_tune = d.X if not d.augmented else d.X.iloc[known]  # tuning: on known outcomes only
        history = boosting.tune(d.types, X_tune, y_dev[known], d.groups[known], workers, deadline,
                                lambda done, n, _best: say(stage, done, n))  # fmt: skip
        timings["tune"] = time.perf_counter() - t
        t = time.perf_counter()
        stage = f"out-of-fold XGBoost ({cfg.folds} folds)"
        say(stage)
        oof["xgboost"] = xgb_oof(d.folds, lambda f: boosting.fit(f.X_train, f.y_train, f.train), xgb_workers,
                                 len(y_dev), _steps(say, stage), extra_out=extra["xgboost"])  # fmt: skip
        timings["oof_xgboost"] = time.perf_counter() - t
        # the report compares SMOTE with the default, scale_pos_weight, on the same folds and params
        if cfg.imbalance == "smote":
            stage = "out-of-fold XGBoost with scale_pos_weight, for comparison"
            say(stage)
            oof_spw = xgb_oof(
                # its own stopping: the tuned rounds were chosen with SMOTE rows and would tilt the comparison
                d.folds,
                lambda f: boosting.fit(f.X_train, f.y_train, f.train, d.balance, oversample=False, own_stopping=True),
                xgb_workers,
                len(y_dev),
                _steps(say, stage),
            )
            comparison = {"smote": auc(y_dev, oof["xgboost"]), "scale_pos_weight": auc(y_dev, oof_spw)}
    return OutOfFold(oof, extra, history, comparison)
