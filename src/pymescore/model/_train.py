"""Training: grouped + stratified folds, an out-of-time (or held-out) test, three model families (tuned
XGBoost, a binned scorecard, a logistic regression), selection or blending by out-of-fold AUC, calibration
on out-of-fold margins, final fit on the development rows.

Nothing the test rows hold reaches any choice: tuning, the blend weights and the calibrator see only the
development rows (tuning on another fold partition than the out-of-fold predictions that set the weights),
and every fitted step (typing categories, target encoding, binning, scaling) is refit inside each training
fold.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from pymescore.model import _xgb
from pymescore.model._calibration import choose_calibrator
from pymescore.model._config import TrainConfig
from pymescore.model._data import Prepared, column_types, prepare
from pymescore.model._fitted import FeatureInfo, FittedModel
from pymescore.model._linear import Linear
from pymescore.model._preprocess import Preprocessor
from pymescore.model._scale import score_from_pd
from pymescore.model._scorecard import Scorecard
from pymescore.model._typing import ColumnType, unreadable

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class TrainResult:
    model: FittedModel
    report: dict[str, Any]
    test: pd.DataFrame | None = None  # y, pd, score (+ the test rows' source columns for slices)
    oof: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else None


def _folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int, grouped: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    if grouped:
        return list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _test_split(prep: Prepared) -> tuple[np.ndarray, str | None, list[str]]:
    """Mask of test rows, its kind and (out of time) its dates."""
    cfg, n = prep.config, len(prep.y)
    if prep.times is not None:
        dates = np.unique(prep.times)
        if len(dates) >= 2:
            k = max(1, round(len(dates) * cfg.oot_fraction))
            k = min(k, len(dates) - 1)
            test = prep.times >= dates[-k]
            return test, "out_of_time", [str(pd.Timestamp(d).date()) for d in dates[-k:]]
    if cfg.holdout > 0:
        k = max(2, round(1 / cfg.holdout))
        grouped = cfg.group_col is not None
        _, test_idx = _folds(prep.y, prep.groups, k, cfg.seed + 1, grouped)[0]
        test = np.zeros(n, dtype=bool)
        test[test_idx] = True
        return test, "holdout", []
    return np.zeros(n, dtype=bool), None, []


def _embargo_applies(prep: Prepared, test_kind: str | None) -> bool:
    """An out-of-time test on rows that know their outcome windows (SME snapshots), embargo not turned off."""
    return prep.config.embargo and prep.label_ends is not None and test_kind == "out_of_time"


def _embargoed(prep: Prepared, test_mask: np.ndarray, test_kind: str | None) -> np.ndarray:
    """Rows outside the test whose outcome window ends after the first test date (none when the embargo does
    not apply)."""
    if not _embargo_applies(prep, test_kind) or prep.label_ends is None or prep.times is None or not test_mask.any():
        return np.zeros(len(prep.y), dtype=bool)
    first_test = prep.times[test_mask].min()
    out: np.ndarray = ~test_mask & (prep.label_ends > first_test)
    return out


def _model_monotone(pre: Preprocessor, monotone: dict[str, int]) -> dict[str, int]:
    cats = set(pre.categorical)
    return {
        out: int(monotone.get(ct.column, 0)) if ct.kind in ("numeric", "money_text") and out not in cats else 0
        for ct in pre.types
        for out in ct.outputs()
    }


def _features(types: list[ColumnType], monotone: dict[str, int], snapshot: bool) -> list[FeatureInfo]:
    from pymescore.features import BY_NAME

    out = []
    for ct in types:
        f = BY_NAME.get(ct.column) if snapshot else None
        out.append(
            FeatureInfo(
                ct.column, ct.kind, int(monotone.get(ct.column, 0)), f.reason_es if f else "", f.reason_en if f else ""
            )
        )
    return out


def fit(frame: pd.DataFrame, config: TrainConfig, progress: Progress | None = None) -> FittedModel:
    """Train on ``frame`` (which holds the target column) and return the fitted model."""
    return train(frame, config, progress).model


def train(frame: pd.DataFrame, config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    prep = prepare(frame, config)
    cfg = prep.config
    test_mask, test_kind, test_dates = _test_split(prep)
    embargoed = _embargoed(prep, test_mask, test_kind)
    dev = np.flatnonzero(~test_mask & ~embargoed)
    X_dev, y_dev, g_dev = prep.X.iloc[dev].reset_index(drop=True), prep.y[dev], prep.groups[dev]
    if len(np.unique(y_dev)) < 2 or min(np.bincount(y_dev)) < cfg.folds:
        from pymescore.errors import PymescoreError

        hint = (
            f"; the out-of-time embargo left out {int(embargoed.sum())} rows whose 12-month outcome window ends "
            f"after the test date {test_dates[0]}: add observation dates at least a label window before it "
            "(e.g. --as-of 2023-06-30,2023-09-30,2023-12-31,2024-12-31), or turn the embargo off "
            "(TrainConfig(embargo=False), --no-embargo) knowing the test figures are then optimistic"
            if embargoed.any()
            else ""
        )
        raise PymescoreError(
            f"expected at least {cfg.folds} rows of each outcome in the development rows, "
            f"got {np.bincount(y_dev, minlength=2).tolist()}{hint}"
        )
    types = column_types(X_dev, prep.snapshot, cfg.max_categories)
    monotone = dict(cfg.monotone or {})
    balance = float((y_dev == 0).sum() / max((y_dev == 1).sum(), 1))
    spw = balance if cfg.imbalance == "scale_pos_weight" else 1.0
    smote = cfg.imbalance == "smote"
    grouped = cfg.group_col is not None
    folds = _folds(y_dev, g_dev, cfg.folds, cfg.seed, grouped)
    stop_groups = g_dev if grouped else None  # early stopping on whole firms, never on rows of fitted firms
    params: dict[str, Any] = dict(_xgb.DEFAULT_PARAMS)  # the tuned ones once tuning has run
    rounds: int | None = None  # boosting rounds from the tuning folds, when they saw every development row

    def boost(
        X: pd.DataFrame,
        y: np.ndarray,
        rows: np.ndarray,
        pos_weight: float = spw,
        oversample: bool = smote,
        own_stopping: bool = False,
    ) -> Any:
        """A booster with ``params`` on development ``rows``: ``rounds`` rounds on every row when tuning chose
        them, else (or with ``own_stopping``) stopping early on a held-out 10% (whole firms when grouped)."""
        groups = None if stop_groups is None else stop_groups[rows]
        fixed = None if own_stopping else rounds
        return _xgb.fit_booster(X, y, params, model_mono, pos_weight, cfg.seed, cfg.device, n_jobs=cfg.n_jobs,
                                smote=oversample, groups=groups, rounds=fixed)  # fmt: skip

    workers = cfg.workers or max(1, min(os.cpu_count() or 1, cfg.folds))
    say("preparing folds")
    fold_data = []
    for tr, va in folds:
        pre = Preprocessor(types, cfg.seed)
        Xtr = pre.fit_transform(X_dev.iloc[tr], y_dev[tr])
        fold_data.append((pre, Xtr, y_dev[tr], pre.transform(X_dev.iloc[va]), y_dev[va], tr, va))
    model_mono = _model_monotone(fold_data[0][0], monotone)
    timings["prepare"] = time.perf_counter() - t0

    use_xgb, use_sc, use_lr = ("xgboost" in cfg.families, "scorecard" in cfg.families, "logistic" in cfg.families)
    imbalance_comparison: dict[str, float | None] = {}
    oof_x = np.full(len(y_dev), np.nan)
    oof_s = np.full(len(y_dev), np.nan)
    oof_l = np.full(len(y_dev), np.nan)
    history: list[dict[str, Any]] = []
    if use_xgb:
        t = time.perf_counter()
        say(f"tuning XGBoost ({cfg.trials} trials at most, {cfg.time_budget:.0f} s budget)")
        rng = np.random.default_rng(cfg.seed)
        keep = np.ones(len(y_dev), dtype=bool)
        if len(y_dev) > cfg.tune_max_rows:
            keep[:] = False
            keep[rng.choice(len(y_dev), cfg.tune_max_rows, replace=False)] = True
        # tuning folds: another partition of the (sampled) development rows than the out-of-fold one, so
        # that the out-of-fold AUC that weighs XGBoost against the untuned families is not the very figure
        # the tuning maximised (that selection bias favoured XGBoost in the blend on small sets)
        rows = np.flatnonzero(keep)
        tune_folds = []
        for tr_k, va_k in _folds(y_dev[rows], g_dev[rows], cfg.folds, cfg.seed + 1, grouped):
            tr, va = rows[tr_k], rows[va_k]
            tune_pre = Preprocessor(types, cfg.seed)
            Xtr = tune_pre.fit_transform(X_dev.iloc[tr], y_dev[tr])
            gtr = None if stop_groups is None else stop_groups[tr]
            tune_folds.append((Xtr, y_dev[tr], tune_pre.transform(X_dev.iloc[va]), y_dev[va], gtr))
        params, history, tuned_rounds = _xgb.tune(
            tune_folds, model_mono, spw, cfg.seed, cfg.trials, cfg.time_budget, cfg.device, cfg.n_jobs, smote, workers
        )
        # the rounds fit a fold of every development row; on a sample they would be too few for the full folds.
        # They are chosen on the tuning folds' validation rows, as the parameters are (a selection as optimistic
        # as the tuning's, never reaching the test rows)
        rounds = tuned_rounds if keep.all() else None
        timings["tune"] = time.perf_counter() - t
        t = time.perf_counter()
        say("out-of-fold XGBoost")
        oof_x = _xgb_oof(fold_data, lambda f: boost(f[1], f[2], f[5]), workers, len(y_dev))
        timings["oof_xgboost"] = time.perf_counter() - t
        if smote:  # the report compares SMOTE with the default, scale_pos_weight, on the same folds and params
            say("out-of-fold XGBoost with scale_pos_weight, for comparison")
            oof_spw = _xgb_oof(
                # its own stopping: the tuned rounds were chosen with SMOTE rows and would tilt the comparison
                fold_data,
                lambda f: boost(f[1], f[2], f[5], pos_weight=balance, oversample=False, own_stopping=True),
                workers,
                len(y_dev),
            )
            imbalance_comparison = {"smote": _auc(y_dev, oof_x), "scale_pos_weight": _auc(y_dev, oof_spw)}
    additive: list[tuple[bool, str, type[Scorecard | Linear], np.ndarray]] = [
        (use_sc, "scorecard", Scorecard, oof_s),
        (use_lr, "logistic", Linear, oof_l),
    ]
    for used, name, family, margins in additive:
        if not used:
            continue
        t = time.perf_counter()
        say(f"out-of-fold {name}")
        # one fold at a time: these fits hold the GIL (threads would not help) and silence library warnings
        # with warnings.catch_warnings, which is not thread-safe
        for _pre, Xtr, ytr, Xva, _yva, _tr, va in fold_data:
            margins[va] = family().fit(Xtr, ytr, model_mono, cfg.seed).margin(Xva)
        timings[f"oof_{name}"] = time.perf_counter() - t

    # blend in log-odds, weights (steps of 0.1 summing to 1) by out-of-fold AUC (development rows only)
    blend_auc = {}
    for w in _blend_grid(use_xgb, use_sc, use_lr):
        blend_auc[w] = _auc(y_dev, _blend(w, oof_x, oof_s, oof_l)) or 0.0
    # ties go to more XGBoost, then more scorecard: the richer model, then the one reviewers know best
    weights = max(blend_auc, key=lambda w: (round(blend_auc[w], 4), w[0], w[1]))
    weight, weight_sc, weight_lr = weights
    z_oof = _blend(weights, oof_x, oof_s, oof_l)
    calibrator, cal_losses = choose_calibrator(z_oof, y_dev, cfg.calibration, cfg.seed)

    t = time.perf_counter()
    say("final fit on the development rows")
    pre = Preprocessor(types, cfg.seed)
    X_fit = pre.fit_transform(X_dev, y_dev)
    final_booster = boost(X_fit, y_dev, np.arange(len(y_dev))) if use_xgb and weight > 0 else None
    scorecard = Scorecard().fit(X_fit, y_dev, model_mono, cfg.seed) if weight_sc > 0 else None
    linear = Linear().fit(X_fit, y_dev, model_mono, cfg.seed) if weight_lr > 0 else None
    timings["final_fit"] = time.perf_counter() - t
    model = FittedModel(
        preprocessor=pre,
        booster=final_booster,
        scorecard=scorecard,
        weight=weight,
        calibrator=calibrator,
        scale=cfg.scale,
        features=_features(types, monotone, prep.snapshot),
        target=cfg.target,
        positive=cfg.positive,
        metadata={"snapshot": prep.snapshot, "group_col": cfg.group_col, "time_col": cfg.time_col},
        linear=linear,
        linear_weight=weight_lr,
    )

    fold_rows = []
    for i, (*_rest, va) in enumerate(fold_data):
        yva = y_dev[va]
        fold_rows.append(
            {
                "fold": i,
                "rows": len(va),
                "auc_xgboost": _auc(yva, oof_x[va]) if use_xgb else None,
                "auc_scorecard": _auc(yva, oof_s[va]) if use_sc else None,
                "auc_logistic": _auc(yva, oof_l[va]) if use_lr else None,
                "auc_selected": _auc(yva, z_oof[va]),
            }
        )
    fold_aucs = [r["auc_selected"] for r in fold_rows if r["auc_selected"] is not None]
    candidates = []
    if use_xgb:
        candidates.append({"name": "xgboost", "oof_auc": _auc(y_dev, oof_x), "imbalance": cfg.imbalance})
    if use_sc:
        candidates.append({"name": "scorecard", "oof_auc": _auc(y_dev, oof_s)})
    if use_lr:
        candidates.append({"name": "logistic", "oof_auc": _auc(y_dev, oof_l)})
    single = {(1.0, 0.0, 0.0): "xgboost", (0.0, 1.0, 0.0): "scorecard", (0.0, 0.0, 1.0): "logistic"}
    if sum((use_xgb, use_sc, use_lr)) > 1:
        label = f"blend (w_xgb={weight:.1f}, w_scorecard={weight_sc:.1f}, w_logistic={weight_lr:.1f})"
        candidates.append({"name": label, "oof_auc": blend_auc[weights]})
    if use_xgb and smote:
        candidates.append({"name": "xgboost (comparison)", "imbalance": "scale_pos_weight",
                           "oof_auc": imbalance_comparison["scale_pos_weight"]})  # fmt: skip
    for c in candidates:
        c["selected"] = c["name"] == single.get(weights, "blend") or (
            weights not in single and str(c["name"]).startswith("blend")
        )

    test_frame = None
    test_metrics = None
    if test_mask.any():
        X_test = prep.X.iloc[np.flatnonzero(test_mask)].reset_index(drop=True)
        y_test = prep.y[test_mask]
        M = pre.transform(X_test)
        z_test = model.margin_of(M)
        p_test = calibrator.predict(z_test)
        test_frame = X_test.assign(y=y_test, pd=p_test, score=np.rint(score_from_pd(p_test, cfg.scale)).astype(int))
        if prep.times is not None:
            test_frame["as_of"] = prep.times[test_mask]
        test_metrics = {"auc": _auc(y_test, p_test), "rows": len(y_test), "positive_rate": float(y_test.mean())}
        for c in candidates:
            if c["name"] == "xgboost" and final_booster is not None:
                c["test_auc"] = _auc(y_test, _xgb.margin(final_booster, M))
            elif c["name"] == "scorecard" and scorecard is not None:
                c["test_auc"] = _auc(y_test, scorecard.margin(M))
            elif c["name"] == "logistic" and linear is not None:
                c["test_auc"] = _auc(y_test, linear.margin(M))
            elif c["selected"]:
                c["test_auc"] = _auc(y_test, z_test)
    timings["total"] = time.perf_counter() - t0
    report = {
        "target": cfg.target,
        "positive": cfg.positive,
        "snapshot": prep.snapshot,
        "rows": {
            "used": len(prep.y),
            "excluded_no_target": prep.excluded_rows,
            "development": len(dev),
            "test": int(test_mask.sum()),
            "embargoed": int(embargoed.sum()),
            # test rows of an entity (a firm) also seen in development: an out-of-time test is across time,
            # not across firms, and a reviewer should know how much of it is the same firms later
            "test_groups_in_development": (
                int(np.isin(np.unique(prep.groups[test_mask]), np.unique(g_dev)).sum()) if cfg.group_col else None
            ),
            "test_groups": len(np.unique(prep.groups[test_mask])) if cfg.group_col else None,
        },
        "embargo": _embargo_applies(prep, test_kind),
        "test_kind": test_kind,
        "test_dates": test_dates,
        "group_col": cfg.group_col,
        "time_col": cfg.time_col,
        "cv": {
            "folds": fold_rows,
            "mean_auc": float(np.mean(fold_aucs)) if fold_aucs else None,
            "std_auc": float(np.std(fold_aucs)) if fold_aucs else None,
        },
        "candidates": candidates,
        "blend_weight_xgboost": weight,
        "blend_weights": {"xgboost": weight, "scorecard": weight_sc, "logistic": weight_lr},
        "calibration": {"method": calibrator.method, "cv_logloss": cal_losses},
        "tuning": {
            "trials": len(history),
            "best_params": params,
            "history": history,
            "rounds": rounds,
            "stopping": None if not use_xgb else "tuning folds" if rounds else "early stopping on 10% held out",
        },
        "scale_pos_weight": spw,
        "imbalance": {"method": cfg.imbalance, "oof_auc": imbalance_comparison if smote and use_xgb else None},
        "typing": [ct.to_dict() for ct in types],
        # cells a column's type could not read (at most 5% of a typed column): trained on as missing values
        "unreadable_cells": {ct.column: n for ct in types if (n := int(unreadable(prep.X[ct.column], ct).sum())) > 0},
        "test_metrics": test_metrics,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    oof = pd.DataFrame({"y": y_dev, "margin": z_oof, "pd": calibrator.predict(z_oof), "margin_xgboost": oof_x,
                        "margin_scorecard": oof_s, "margin_logistic": oof_l})  # fmt: skip
    if prep.times is not None:
        oof["as_of"] = prep.times[dev]
    return TrainResult(model=model, report=report, test=test_frame, oof=oof, timings=timings)


def _xgb_oof(
    fold_data: list[tuple[Any, ...]], fit: Callable[[tuple[Any, ...]], Any], workers: int, n: int
) -> np.ndarray:
    """Out-of-fold XGBoost margins: ``fit`` of each fold, ``workers`` folds at a time in threads (XGBoost
    trains outside the GIL), each booster scoring its fold's validation rows."""
    if workers <= 1 or len(fold_data) <= 1:
        boosters = [fit(f) for f in fold_data]
    else:
        with ThreadPoolExecutor(min(workers, len(fold_data)), thread_name_prefix="fold") as pool:
            boosters = list(pool.map(fit, fold_data))
    out = np.full(n, np.nan)
    for (*_, Xva, _yva, _tr, va), booster in zip(fold_data, boosters, strict=True):
        out[va] = _xgb.margin(booster, Xva)
    return out


def _blend_grid(use_xgb: bool, use_sc: bool, use_lr: bool) -> list[tuple[float, float, float]]:
    """(XGBoost, scorecard, logistic) weights in steps of 0.1 that sum to 1, families not used at 0."""
    out = []
    for i in range(11):
        for j in range(11 - i):
            w = (i / 10, j / 10, round(1 - i / 10 - j / 10, 1))
            if all(used or x == 0 for used, x in zip((use_xgb, use_sc, use_lr), w, strict=True)):
                out.append(w)
    return out


def _blend(w: tuple[float, float, float], *margins: np.ndarray) -> np.ndarray:
    """The log-odds blend; a family with weight 0 is left out (its margins may be NaN: not fitted)."""
    z = np.zeros(len(margins[0]))
    for weight, m in zip(w, margins, strict=True):
        if weight > 0:
            z += weight * m
    return z
