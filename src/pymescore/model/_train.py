"""Training: grouped + stratified folds, an out-of-time (or held-out) test, the registry's model families
(``_families``: tuned XGBoost, LightGBM, a binned scorecard, a logistic regression), selection or blending by
out-of-fold AUC, calibration on out-of-fold margins, final fit on the development rows.

Nothing the test rows hold reaches any choice: tuning, the blend weights and the calibrator see only the
development rows (tuning on another fold partition than the out-of-fold predictions that set the weights),
and every fitted step (typing categories, target encoding, binning, scaling) is refit inside each training
fold.

This module prepares the run (the test rows, the embargo, reject inference, the folds), chooses the blend and the
calibrator and writes the report; the out-of-fold stage is ``_train_oof``, the final fits, the fitted model and
its test scores ``_train_final``, and what both stages read of the development rows ``_development``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from pymescore.errors import ConfigError, PymescoreError
from pymescore.model._augment import infer_rejects
from pymescore.model._blend import FAMILIES, blend, candidates, choose_weights, fold_table, why
from pymescore.model._calibration import choose_calibrator
from pymescore.model._config import TrainConfig
from pymescore.model._data import column_types, prepare, rejected_mask, row_hashes
from pymescore.model._development import Development, Progress
from pymescore.model._domain import Domain
from pymescore.model._families import resolve
from pymescore.model._fitted import FittedModel, explanation_report
from pymescore.model._oof import Boosting, Fold, model_monotone, prepare_folds
from pymescore.model._reject import compact, reject_record
from pymescore.model._split import (
    choose_test,
    development_rejects,
    embargo_applies,
    embargoed,
    folds,
    stratified_sample,
)
from pymescore.model._train_final import final_fit, fitted_model, score_test_rows
from pymescore.model._train_oof import out_of_fold
from pymescore.model._typing import unreadable

log = logging.getLogger(__name__)


__all__ = ["Progress", "TrainResult", "approved_only_run", "fit", "train"]


def _silent(stage: str, done: int | None = None, total: int | None = None, /) -> None:
    return None


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
    say("preparing folds")
    fold_data = prepare_folds(types, X_dev, y_dev, splits, cfg.seed, weight, score_extra)
    model_mono = model_monotone(fold_data[0].pre, monotone)
    boosting = Boosting(model_mono, spw, smote, g_dev if grouped else None, cfg, weight=weight,
                        n_known=None if aug is None else n_known, client=client)  # fmt: skip
    sampled, sample, fold_data_small = _sampled(fold_data, y_dev[final_rows], cfg, client)
    timings["prepare"] = time.perf_counter() - t0
    n_rejects = 0 if prep.rejects is None else len(prep.rejects.X)
    ri_record = reject_record(cfg.reject_inference, n_rejects, usable, rejects_out, None if aug is None else aug.record)
    development = Development(cfg=cfg, types=types, X=X_dev, y=y_dev, groups=g_dev, grouped=grouped,
                              sequences=seq_dev, channels=prep.sequence_cols, n_known=n_known,
                              augmented=aug is not None, weight=weight, final_rows=final_rows, balance=balance,
                              folds=fold_data, small_folds=fold_data_small, monotone=model_mono,
                              boosting=boosting)  # fmt: skip

    used = tuple(name in names for name in FAMILIES)
    use = dict(zip(FAMILIES, used, strict=True))
    found = out_of_fold(development, use, 0 if score_extra is None else len(score_extra), t0, timings, say)
    oof, extra, history, comparison = found.margins, found.extra, found.history, found.comparison

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

    fits = final_fit(development, w, sample if sampled else None, timings, say)
    metadata = {"snapshot": prep.domain is not None, "group_col": cfg.group_col, "time_col": cfg.time_col} | (
        {"reject_inference": compact(ri_record)} if n_rejects or aug is not None else {}
    )
    model = fitted_model(fits, w, calibrator, cfg, types, monotone, prep.domain, metadata)

    fold_rows = fold_table(y_known, [f.valid[f.valid < n_known] for f in fold_data], margins_known, used,
                           z_oof[known])  # fmt: skip
    fold_aucs = [r["auc_selected"] for r in fold_rows if r["auc_selected"] is not None]
    rows = candidates(y_known, margins_known, used, weights, blend_aucs[weights], cfg.imbalance, comparison)

    test_frame = None
    test_metrics = None
    if test_mask.any():
        test_frame, test_metrics = score_test_rows(prep, test_mask, fits, model, rows)
    explanations = explanation_report(model, fits.X_fit, cfg.seed, seq_dev)  # the networks' completeness error
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
            "trials_asked": cfg.trials if use["xgboost"] else 0,
            # the time budget, not --trials, ended tuning: a faster or slower machine would tune differently
            "ended_by_budget": use["xgboost"]
            and (len(history) < cfg.trials or any(h.get("cut_by_budget") for h in history)),
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
