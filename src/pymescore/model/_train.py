"""Training: grouped + stratified folds, an out-of-time (or held-out) test, the registry's model families
(``_families``: tuned XGBoost, LightGBM, a binned scorecard, a logistic regression), selection or blending by
out-of-fold AUC, calibration on out-of-fold margins, final fit on the development rows.

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
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pymescore.errors import ConfigError, PymescoreError
from pymescore.model import _lgbm, _xgb
from pymescore.model._augment import infer_rejects
from pymescore.model._blend import FAMILIES, add_test_aucs, auc, blend, candidates, choose_weights, fold_table, why
from pymescore.model._calibration import choose_calibrator
from pymescore.model._config import TrainConfig
from pymescore.model._data import column_types, prepare, rejected_mask, row_hashes
from pymescore.model._domain import Domain
from pymescore.model._families import resolve
from pymescore.model._fitted import FeatureInfo, FittedModel, explanation_report
from pymescore.model._lgbm import as_array
from pymescore.model._linear import Linear
from pymescore.model._oof import (
    Boosting,
    Fold,
    additive_oof,
    model_monotone,
    network_inputs,
    network_oof,
    prepare_folds,
    xgb_oof,
)
from pymescore.model._preprocess import Preprocessor
from pymescore.model._reject import compact, reject_record
from pymescore.model._scale import score_from_pd
from pymescore.model._scorecard import Scorecard
from pymescore.model._split import (
    choose_test,
    development_rejects,
    embargo_applies,
    embargoed,
    folds,
    stratified_sample,
)
from pymescore.model._tf_net import TfNetwork
from pymescore.model._typing import ColumnType, unreadable

log = logging.getLogger(__name__)


class Progress(Protocol):
    """Told of each stage of training (``progress(stage)``, once, when it starts) and of each step inside it
    (``progress(stage, done, total)``: a fold, a tuning trial)."""

    def __call__(self, stage: str, done: int | None = None, total: int | None = None, /) -> None: ...


def _silent(stage: str, done: int | None = None, total: int | None = None, /) -> None:
    return None


def _steps(say: Progress, stage: str) -> Callable[[int, int], None]:
    """The steps (folds) of ``stage``, told to ``say``."""
    return lambda done, total: say(stage, done, total)


def _sampled(
    fold_data: list[Fold], y_dev: np.ndarray, cfg: TrainConfig, client: Any
) -> tuple[bool, np.ndarray, list[Fold]]:
    """On a cluster with more development rows than ``cfg.sample_rows``: (True, the final fit's stratified
    sample, the folds with each training part sampled alike: their validation rows stay whole, so every row
    keeps an out-of-fold margin); else (False, every row, the folds)."""
    if client is None or len(y_dev) <= cfg.sample_rows:
        return False, np.arange(len(y_dev)), fold_data
    small = []
    for i, f in enumerate(fold_data):
        keep = stratified_sample(f.y_train, cfg.sample_rows, cfg.seed + i)
        small.append(
            f._replace(
                X_train=f.X_train.iloc[keep],
                y_train=f.y_train[keep],
                w_train=None if f.w_train is None else f.w_train[keep],
            )
        )
    return True, stratified_sample(y_dev, cfg.sample_rows, cfg.seed), small


def _scale_record(client: Any, rows: int, sampled: bool, sample: int, names: tuple[str, ...]) -> dict[str, Any]:
    if client is None:
        return {"scheduler": None}
    workers = len(client.scheduler_info().get("workers", {}))
    others = [n for n in names if n != "xgboost"]
    return {
        "scheduler": str(getattr(client, "scheduler", None) and client.scheduler.address),
        "workers": workers,
        "xgboost": f"xgboost.dask on all {rows} development rows" if "xgboost" in names else None,
        "sampled_families": others if sampled else [],
        "sample_rows": sample if sampled else rows,
        "development_rows": rows,
    }


@dataclass
class TrainResult:
    model: FittedModel
    report: dict[str, Any]
    test: pd.DataFrame | None = None  # y, pd, score (+ the test rows' source columns for slices)
    oof: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: with ``score_extra``: each fold's PD of those rows (folds × rows; the approved-only run of reject inference)
    extra_fold_pd: np.ndarray | None = None


def _features(types: list[ColumnType], monotone: dict[str, int], domain: Domain | None) -> list[FeatureInfo]:
    """The fitted model's feature list; reason texts from the domain where it has them."""
    reasons = domain.reasons if domain is not None else {}
    out = []
    for ct in types:
        es, en = reasons.get(ct.column, ("", ""))
        out.append(FeatureInfo(ct.column, ct.kind, int(monotone.get(ct.column, 0)), es, en))
    return out


def _features_of(columns: list[str], domain: Domain | None) -> list[FeatureInfo]:
    """The histories' channels as the reasons name them (the domain's texts)."""
    reasons = domain.reasons if domain is not None else {}
    return [FeatureInfo(c, "history", 0, *reasons.get(c, (c, c))) for c in columns]


def fit(
    frame: pd.DataFrame, config: TrainConfig, progress: Progress | None = None, *, domain: Domain | None = None
) -> FittedModel:
    """Train on ``frame`` (which holds the target column) and return the fitted model."""
    return train(frame, config, progress, domain=domain).model


def train(
    frame: pd.DataFrame,
    config: TrainConfig,
    progress: Progress | None = None,
    *,
    domain: Domain | None = None,
    score_extra: pd.DataFrame | None = None,
    approved_only: TrainResult | None = None,
    client: Any = None,
) -> TrainResult:
    """Train on ``frame`` (which holds the target column). ``domain`` is what the caller knows about the table's
    family (``pymescore.features._adapter.snapshot_domain`` for SME snapshots); without it, any flat table.
    ``score_extra`` (rows of the feature columns): every fold model scores them too (``extra_fold_pd``).

    ``approved_only``: for fuzzy, parcelling and the hard cut-off, an approved-only training of the same table to
    start from instead of training one (``reject_inference="none"``, ``score_extra`` every rejected row, as
    :func:`approved_only_run` makes it); refused unless it developed on the same rows and folds.

    ``client`` (a ``distributed.Client``): the XGBoost out-of-fold and final boosters are fitted on its Dask
    cluster on every development row; the other families on a stratified sample of ``config.sample_rows``."""
    say: Progress = progress or _silent
    names, families_why = resolve(config.families)  # a family not built or not installed: refused before any work
    if config.reject_inference != "none" and any(n.startswith("tf_") for n in names):
        raise ConfigError(
            f"--reject-inference {config.reject_inference} with the TensorFlow families ({', '.join(names)}): expected "
            "the tree and additive families only (the networks take no row weights yet); drop tf_mlp/tf_sequence "
            "from --families or train with --reject-inference none"
        )
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    prep = prepare(frame, config, domain)
    cfg = prep.config
    test_mask, test_kind, test_dates = choose_test(prep)
    left_out = embargoed(prep, test_mask, test_kind)
    dev = np.flatnonzero(~test_mask & ~left_out)
    X_dev, y_dev, g_dev = prep.X.iloc[dev].reset_index(drop=True), prep.y[dev], prep.groups[dev]
    seq_dev = None if prep.sequences is None else prep.sequences[dev]
    if "tf_sequence" in names and seq_dev is None:
        raise ConfigError("--families tf_sequence: expected each row's monthly histories (the seq_* columns of "
                          "pymescore features --sequences), got a table without them; rebuild the snapshot with "
                          "--sequences or leave tf_sequence out", parameter="families")  # fmt: skip
    if len(np.unique(y_dev)) < 2 or min(np.bincount(y_dev)) < cfg.folds:
        hint = (
            f"; the out-of-time embargo left out {int(left_out.sum())} rows whose outcome window ends after the "
            f"test date {test_dates[0]}: add observation dates at least one outcome window before it, or turn the "
            "embargo off (TrainConfig(embargo=False), --no-embargo) knowing the test figures are then optimistic"
            if left_out.any()
            else ""
        )
        raise PymescoreError(
            f"expected at least {cfg.folds} rows of each outcome in the development rows, "
            f"got {np.bincount(y_dev, minlength=2).tolist()}{hint}"
        )
    grouped = cfg.group_col is not None
    splits = folds(y_dev, g_dev, cfg.folds, cfg.seed, grouped)
    n_known = len(y_dev)  # the rows with known outcomes; reject inference's rows come after them (``_augment``)
    usable, rejects_out = development_rejects(prep, test_mask, test_kind)
    aug = None
    if cfg.reject_inference != "none" and prep.rejects is not None and usable.any():
        usable_rows = np.flatnonzero(usable)
        inner_config = replace(config, reject_inference="none", time_budget=max(1.0, config.time_budget / 2))
        aug = infer_rejects(cfg, prep.rejects, usable_rows, X_dev, y_dev, g_dev, splits, say, domain,
                            approved_only or (lambda: approved_only_run(frame, inner_config, domain, say)))  # fmt: skip
        taken = usable_rows[aug.reject_rows]
        X_dev = pd.concat([X_dev, prep.rejects.X.iloc[taken]], ignore_index=True)
        y_dev, g_dev, splits = aug.y, np.concatenate([g_dev, prep.rejects.groups[taken]]), aug.splits
    weight = None if aug is None else aug.weight
    final_rows = np.arange(n_known) if aug is None else aug.final
    known = slice(0, n_known)
    types = column_types(X_dev if aug is None else X_dev.iloc[final_rows], prep.domain, cfg.max_categories)
    monotone = dict(cfg.monotone or {})
    if weight is None:
        balance = float((y_dev == 0).sum() / max((y_dev == 1).sum(), 1))
    else:  # the weighted outcomes of the final fit's rows
        w, y_fit = weight[final_rows], y_dev[final_rows]
        balance = float(w[y_fit == 0].sum() / max(w[y_fit == 1].sum(), 1e-12))
    spw = balance if cfg.imbalance == "scale_pos_weight" else 1.0
    smote = cfg.imbalance == "smote"
    workers = cfg.workers or max(1, min(os.cpu_count() or 1, cfg.folds))
    say("preparing folds")
    fold_data = prepare_folds(types, X_dev, y_dev, splits, cfg.seed, weight, score_extra)
    model_mono = model_monotone(fold_data[0].pre, monotone)
    boosting = Boosting(model_mono, spw, smote, g_dev if grouped else None, cfg, weight=weight,
                        n_known=None if aug is None else n_known, client=client)  # fmt: skip
    xgb_workers = 1 if client is not None else workers  # on a cluster each fold's booster uses all of it
    sampled, sample, fold_data_small = _sampled(fold_data, y_dev[final_rows], cfg, client)
    timings["prepare"] = time.perf_counter() - t0
    n_rejects = 0 if prep.rejects is None else len(prep.rejects.X)
    ri_record = reject_record(cfg.reject_inference, n_rejects, usable, rejects_out, None if aug is None else aug.record)
    extra = {name: np.full((cfg.folds, 0 if score_extra is None else len(score_extra)), np.nan) for name in FAMILIES}

    used = tuple(name in names for name in FAMILIES)
    use = dict(zip(FAMILIES, used, strict=True))
    comparison: dict[str, float | None] | None = None  # SMOTE against scale_pos_weight, when SMOTE is used
    oof = {name: np.full(len(y_dev), np.nan) for name in FAMILIES}
    history: list[dict[str, Any]] = []
    # the untuned families first: their time is then known when tuning's share of the budget is set
    for name, family in (("scorecard", Scorecard), ("logistic", Linear)):
        if not use[name]:
            continue
        t = time.perf_counter()
        stage = f"out-of-fold {name} ({cfg.folds} folds)"
        say(stage)
        oof[name] = additive_oof(family, fold_data_small, model_mono, cfg.seed, len(y_dev), _steps(say, stage),
                                 extra[name])  # fmt: skip
        timings[f"oof_{name}"] = time.perf_counter() - t
    if use["lightgbm"]:
        t = time.perf_counter()
        stage = f"out-of-fold LightGBM ({cfg.folds} folds)"
        say(stage)
        oof["lightgbm"] = xgb_oof(fold_data_small, lambda f: _lgbm.fit_booster(f.X_train, f.y_train, model_mono,
                                                                              cfg.seed, cfg.n_jobs, weight=f.w_train),
                                  workers, len(y_dev), _steps(say, stage), margin=_lgbm.margin,
                                  extra_out=extra["lightgbm"])  # fmt: skip
        timings["oof_lightgbm"] = time.perf_counter() - t
    sizes, directions = network_inputs(fold_data[0].pre, model_mono)

    def fit_net(X: pd.DataFrame, y: np.ndarray, rows: np.ndarray, sequence: bool, explain: bool = False) -> TfNetwork:
        histories = seq_dev[rows] if sequence and seq_dev is not None else None
        return TfNetwork.fit(as_array(X), y, sizes, directions, cfg.seed, g_dev[rows] if grouped else None, cfg.n_jobs,
                             explain=explain, sequences=histories, channels=list(prep.sequence_cols))  # fmt: skip

    for name, label in (("tf_mlp", "TensorFlow MLP"), ("tf_sequence", "TensorFlow sequence model")):
        if not use[name]:
            continue
        t = time.perf_counter()
        stage = f"out-of-fold {label} ({cfg.folds} folds)"
        say(stage)
        sequence = name == "tf_sequence"
        oof[name] = network_oof(fold_data, lambda f, s=sequence: fit_net(f.X_train, f.y_train, f.train, s),  # type: ignore[misc]
                                len(y_dev), _steps(say, stage), seq_dev if sequence else None)  # fmt: skip
        timings[f"oof_{name}"] = time.perf_counter() - t
    if use["xgboost"]:
        t = time.perf_counter()
        # --time-budget bounds the whole run: tuning ends in time for the out-of-fold and final XGBoost fits
        # (measured on its first trial), the untuned families' final fits and the bundle's last steps
        later = 1.5 * sum(timings.get(f"oof_{n}", 0.0) for n in FAMILIES if n != "xgboost") / cfg.folds
        deadline = t0 + cfg.time_budget - later - 0.05 * cfg.time_budget
        stage = f"tuning XGBoost ({cfg.trials} trials at most; the whole run within {cfg.time_budget:.0f} s)"
        say(stage)
        X_tune = X_dev if aug is None else X_dev.iloc[known]  # tuning: on known outcomes only
        history = boosting.tune(types, X_tune, y_dev[known], g_dev[known], workers, deadline,
                                lambda d, n, _best: say(stage, d, n))  # fmt: skip
        timings["tune"] = time.perf_counter() - t
        t = time.perf_counter()
        stage = f"out-of-fold XGBoost ({cfg.folds} folds)"
        say(stage)
        oof["xgboost"] = xgb_oof(fold_data, lambda f: boosting.fit(f.X_train, f.y_train, f.train), xgb_workers,
                                 len(y_dev), lambda d, n: say(stage, d, n), extra_out=extra["xgboost"])  # fmt: skip
        timings["oof_xgboost"] = time.perf_counter() - t
        if smote:  # the report compares SMOTE with the default, scale_pos_weight, on the same folds and params
            stage = "out-of-fold XGBoost with scale_pos_weight, for comparison"
            say(stage)
            oof_spw = xgb_oof(
                # its own stopping: the tuned rounds were chosen with SMOTE rows and would tilt the comparison
                fold_data,
                lambda f: boosting.fit(f.X_train, f.y_train, f.train, balance, oversample=False, own_stopping=True),
                xgb_workers,
                len(y_dev),
                lambda d, n: say(stage, d, n),
            )
            comparison = {"smote": auc(y_dev, oof["xgboost"]), "scale_pos_weight": auc(y_dev, oof_spw)}

    # blend in log-odds, weights by out-of-fold AUC (development rows with known outcomes only); the calibrator
    # on every development row (reject inference's too, with their weights)
    margins = tuple(oof[name] for name in FAMILIES)
    y_known, margins_known = y_dev[known], tuple(m[known] for m in margins)
    weights, blend_aucs = choose_weights(y_known, margins_known, used)
    w = dict(zip(FAMILIES, weights, strict=True))
    z_oof = blend(weights, *margins)
    cal = np.arange(n_known) if aug is None else aug.calibration
    calibrator, cal_losses = choose_calibrator(z_oof[cal], y_dev[cal], cfg.calibration, cfg.seed,
                                               None if weight is None else weight[cal])  # fmt: skip

    t = time.perf_counter()
    say("final fit on the development rows")
    pre = Preprocessor(types, cfg.seed)
    X_final, y_final = (X_dev, y_dev) if aug is None else (X_dev.iloc[final_rows], y_dev[final_rows])
    w_final = None if weight is None else weight[final_rows]
    X_fit = pre.fit_transform(X_final, y_final, w_final)
    final_booster = boosting.fit(X_fit, y_final, final_rows) if w["xgboost"] > 0 else None
    # on a cluster the other families fit on the stratified sample of the final rows
    X_small, y_small = (X_fit.iloc[sample], y_final[sample]) if sampled else (X_fit, y_final)
    w_small = None if w_final is None else (w_final[sample] if sampled else w_final)
    final_lgbm = (_lgbm.fit_booster(X_small, y_small, model_mono, cfg.seed, cfg.n_jobs, weight=w_small)
                  if w["lightgbm"] > 0 else None)  # fmt: skip
    scorecard = Scorecard().fit(X_small, y_small, model_mono, cfg.seed, w_small) if w["scorecard"] > 0 else None
    linear = Linear().fit(X_small, y_small, model_mono, cfg.seed, w_small) if w["logistic"] > 0 else None
    # the networks: every development row (reject inference does not reach them: refused above)
    final_net = fit_net(X_fit, y_final, final_rows, False, explain=True) if w["tf_mlp"] > 0 else None
    final_seq = fit_net(X_fit, y_final, final_rows, True, explain=True) if w["tf_sequence"] > 0 else None
    timings["final_fit"] = time.perf_counter() - t
    model = FittedModel(
        preprocessor=pre,
        booster=final_booster,
        scorecard=scorecard,
        weight=w["xgboost"],
        calibrator=calibrator,
        scale=cfg.scale,
        features=_features(types, monotone, prep.domain),
        target=cfg.target,
        positive=cfg.positive,
        metadata={"snapshot": prep.domain is not None, "group_col": cfg.group_col, "time_col": cfg.time_col}
        | ({"reject_inference": compact(ri_record)} if n_rejects or aug is not None else {}),
        linear=linear,
        linear_weight=w["logistic"],
        lightgbm=final_lgbm,
        lightgbm_weight=w["lightgbm"],
        tf_mlp=final_net,
        tf_mlp_weight=w["tf_mlp"],
        tf_sequence=final_seq,
        tf_sequence_weight=w["tf_sequence"],
        history_features=[] if final_seq is None else _features_of(final_seq.channels, prep.domain),
    )

    fold_rows = fold_table(y_known, [f.valid[f.valid < n_known] for f in fold_data], margins_known, used,
                           z_oof[known])  # fmt: skip
    fold_aucs = [r["auc_selected"] for r in fold_rows if r["auc_selected"] is not None]
    rows = candidates(y_known, margins_known, used, weights, blend_aucs[weights], cfg.imbalance, comparison)

    test_frame = None
    test_metrics = None
    if test_mask.any():
        X_test = prep.X.iloc[np.flatnonzero(test_mask)].reset_index(drop=True)
        y_test = prep.y[test_mask]
        M = pre.transform(X_test)
        seq_test = None if prep.sequences is None else prep.sequences[test_mask]
        z_test = model.margin_of(M, sequences=seq_test)
        p_test = calibrator.predict(z_test)
        test_frame = X_test.assign(y=y_test, pd=p_test, score=np.rint(score_from_pd(p_test, cfg.scale)).astype(int))
        if prep.times is not None:
            test_frame["as_of"] = prep.times[test_mask]
        test_metrics = {"auc": auc(y_test, p_test), "rows": len(y_test), "positive_rate": float(y_test.mean())}
        own = {
            "xgboost": None if final_booster is None else _xgb.margin(final_booster, M),
            "lightgbm": None if final_lgbm is None else _lgbm.margin(final_lgbm, M),
            "scorecard": None if scorecard is None else scorecard.margin(M),
            "logistic": None if linear is None else linear.margin(M),
            "tf_mlp": None if final_net is None else final_net.margin(as_array(M)),
            "tf_sequence": None if final_seq is None else final_seq.margin(as_array(M), seq_test),
        }
        add_test_aucs(rows, y_test, own, z_test)
    explanations = explanation_report(model, X_fit, cfg.seed, seq_dev)  # the networks' completeness error
    timings["total"] = time.perf_counter() - t0
    report = {
        "target": cfg.target,
        "positive": cfg.positive,
        "snapshot": prep.domain is not None,
        "domain": None if prep.domain is None else prep.domain.name,
        "rows": {
            "used": len(prep.y),
            "excluded_no_target": prep.excluded_rows,
            "development": len(dev),
            "rejected": 0 if prep.rejects is None else len(prep.rejects.X),
            "test": int(test_mask.sum()),
            "embargoed": int(left_out.sum()),
            # test rows of an entity (a firm) also seen in development: an out-of-time test is across time,
            # not across firms, and a reviewer should know how much of it is the same firms later
            "test_groups_in_development": (
                int(np.isin(np.unique(prep.groups[test_mask]), np.unique(g_dev)).sum()) if cfg.group_col else None
            ),
            "test_groups": len(np.unique(prep.groups[test_mask])) if cfg.group_col else None,
        },
        "embargo": embargo_applies(prep, test_kind),
        "test_kind": test_kind,
        "test_dates": test_dates,
        "group_col": cfg.group_col,
        "time_col": cfg.time_col,
        "cv": {
            "folds": fold_rows,
            "mean_auc": float(np.mean(fold_aucs)) if fold_aucs else None,
            "std_auc": float(np.std(fold_aucs)) if fold_aucs else None,
        },
        "candidates": rows,
        "blend_weight_xgboost": w["xgboost"],
        "blend_weights": w,
        "families": list(names),
        "blend": why(weights, blend_aucs, used, families_why),
        "calibration": {"method": calibrator.method, "cv_logloss": cal_losses},
        "tuning": {
            "trials": len(history),
            "best_params": boosting.params,
            "history": history,
            "rounds": boosting.rounds,
            "stopping": (
                None if not use["xgboost"] else "tuning folds" if boosting.rounds else "early stopping on 10% held out"
            ),
        },
        "scale_pos_weight": spw,
        "imbalance": {"method": cfg.imbalance, "oof_auc": comparison},
        "typing": [ct.to_dict() for ct in types],
        # cells a column's type could not read (at most 5% of a typed column): trained on as missing values
        "unreadable_cells": {ct.column: n for ct in types if (n := int(unreadable(prep.X[ct.column], ct).sum())) > 0},
        "test_metrics": test_metrics,
        # a random holdout is found again in the same table by its rows' fingerprints (report, evaluate)
        "holdout_rows": (
            {
                "columns": [str(c) for c in prep.X.columns],
                "hashes": [f"{h:016x}" for h in row_hashes(prep.X[test_mask], prep.y[test_mask])],
            }
            if test_kind == "holdout"
            else None
        ),
        "explanations": explanations,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        # where the fits ran: in this process, or XGBoost on a Dask cluster and the other families on a sample
        "scale": _scale_record(client, len(final_rows), sampled, len(sample), names),
        # what --time-budget bounds: the whole training run (the untuned defaults' trial always runs)
        "time_budget": {"seconds": cfg.time_budget, "within": timings["total"] <= cfg.time_budget},
        "reject_inference": ri_record,
    }
    oof_frame = pd.DataFrame({"y": y_known, "margin": z_oof[known], "pd": calibrator.predict(z_oof[known]),
                              **{f"margin_{name}": oof[name][known] for name in FAMILIES}})  # fmt: skip
    if prep.times is not None:
        oof_frame["as_of"] = prep.times[dev]
    extra_pd = None
    if score_extra is not None:  # each fold's blended, calibrated PD of the extra rows
        extra_pd = np.vstack([calibrator.predict(blend(weights, *(extra[n][k] for n in FAMILIES)))
                              for k in range(cfg.folds)])  # fmt: skip
    return TrainResult(model=model, report=report, test=test_frame, oof=oof_frame, timings=timings,
                       extra_fold_pd=extra_pd)  # fmt: skip


def approved_only_run(
    frame: pd.DataFrame, config: TrainConfig, domain: Domain | None = None, progress: Progress | None = None
) -> TrainResult:
    """Training on the approved loans alone (``config`` with ``reject_inference="none"``), every fold model scoring
    every rejected row too: what fuzzy, parcelling and the hard cut-off start from (``train(approved_only=...)``)."""
    say: Progress = progress or _silent
    cfg = replace(config, reject_inference="none")
    present = frame[cfg.target].astype("string").str.strip().fillna("") != ""
    rejected = ~present.to_numpy() & rejected_mask(frame, cfg.rejected_col)
    features = prepare(frame, cfg, domain).X.columns
    return train(frame[~rejected], cfg, lambda stage, d=None, n=None: say(f"approved-only model: {stage}", d, n),
                 domain=domain, score_extra=frame.loc[rejected, list(features)].reset_index(drop=True))  # fmt: skip
