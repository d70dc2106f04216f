"""Out-of-fold margins of each family on the development rows: every fitted step (typing categories, target
encoding, binning, scaling) refit inside each training fold; XGBoost tuned on another fold partition than the
one whose margins weigh the families, its folds fitted in threads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Lock
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from pymescore.model import _xgb
from pymescore.model._config import TrainConfig
from pymescore.model._lgbm import as_array as _lgbm_array
from pymescore.model._linear import Linear
from pymescore.model._preprocess import Preprocessor
from pymescore.model._scorecard import Scorecard
from pymescore.model._split import folds
from pymescore.model._typing import ColumnType


class Fold(NamedTuple):
    """One fold of the development rows, preprocessed by a preprocessor fitted on its training rows only."""

    pre: Preprocessor
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    train: np.ndarray  # row positions in the development rows
    valid: np.ndarray
    w_train: np.ndarray | None = None  # row weights of the training rows (reject inference); None: every row 1
    X_extra: pd.DataFrame | None = None  # other rows the fold's models score (the approved-only run's rejects)


def prepare_folds(
    types: list[ColumnType],
    X: pd.DataFrame,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    weight: np.ndarray | None = None,
    extra: pd.DataFrame | None = None,
) -> list[Fold]:
    """Each fold preprocessed by a preprocessor fitted on its training rows (weighted by ``weight``); ``extra``
    rows (scored by every fold's models) transformed by each fold's preprocessor too."""
    out = []
    for tr, va in splits:
        pre = Preprocessor(types, seed)
        w = None if weight is None else weight[tr]
        X_train = pre.fit_transform(X.iloc[tr], y[tr], w)
        X_extra = None if extra is None else pre.transform(extra)
        out.append(Fold(pre, X_train, y[tr], pre.transform(X.iloc[va]), y[va], tr, va, w, X_extra))
    return out


def model_monotone(pre: Preprocessor, monotone: dict[str, int]) -> dict[str, int]:
    """Directions by model input: a numeric source column's direction; 0 for categories and date parts."""
    cats = set(pre.categorical)
    return {
        out: int(monotone.get(ct.column, 0)) if ct.kind in ("numeric", "money_text") and out not in cats else 0
        for ct in pre.types
        for out in ct.outputs()
    }


@dataclass
class Boosting:
    """How every booster of one training run is fitted: ``params`` (the tuned ones once tuning has run) and
    ``rounds`` (from the tuning folds, when they saw every development row)."""

    monotone: dict[str, int]
    pos_weight: float
    smote: bool
    #: early stopping on whole groups (firms), never on rows of fitted groups; None when not grouped
    stop_groups: np.ndarray | None
    config: TrainConfig
    params: dict[str, Any] = field(default_factory=lambda: dict(_xgb.DEFAULT_PARAMS))
    rounds: int | None = None
    #: reject inference: the development rows' weights and how many of them (the first ones) have known outcomes;
    #: the rows after them are inferred, never validation or early-stopping rows. None: every row known, weight 1
    weight: np.ndarray | None = None
    n_known: int | None = None
    #: a ``distributed.Client``: the out-of-fold and final boosters are fitted on its cluster (tuning stays here,
    #: on at most ``tune_max_rows`` rows)
    client: Any = None

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        rows: np.ndarray,
        pos_weight: float | None = None,
        oversample: bool | None = None,
        own_stopping: bool = False,
    ) -> Any:
        """A booster on development ``rows``: ``rounds`` rounds on every row when tuning chose them, else (or
        with ``own_stopping``) stopping early on a held-out 10% of the known rows (whole groups when grouped)."""
        cfg = self.config
        groups = None if self.stop_groups is None else self.stop_groups[rows]
        fixed = None if own_stopping else self.rounds
        spw = self.pos_weight if pos_weight is None else pos_weight
        smote = self.smote if oversample is None else oversample
        weight = None if self.weight is None else self.weight[rows]
        known = None if self.n_known is None else rows < self.n_known
        return _xgb.fit_booster(X, y, self.params, self.monotone, spw, cfg.seed, cfg.device, weight, n_jobs=cfg.n_jobs,
                                smote=smote, groups=groups, rounds=fixed, stop_from=known,
                                client=self.client)  # fmt: skip

    def tune(
        self,
        types: list[ColumnType],
        X: pd.DataFrame,
        y: np.ndarray,
        groups: np.ndarray,
        workers: int,
        deadline: float | None = None,
        on_trial: Callable[[int, int, float | None], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Tune ``params`` (and ``rounds``) on the development rows with known outcomes (the first ones, weighted
        by ``weight``: reject inference's rows never tune); returns the trials' history.

        The tuning folds are another partition of the (sampled) development rows than the out-of-fold one, so
        that the out-of-fold AUC that weighs XGBoost against the untuned families is not the very figure the
        tuning maximised (that selection bias favoured XGBoost in the blend on small sets).

        ``deadline`` (a ``time.perf_counter()`` instant) is when the rest of training (the out-of-fold and the
        final XGBoost fits) must start by: tuning stops early enough for them, measured on its first trial."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        keep = np.ones(len(y), dtype=bool)
        if len(y) > cfg.tune_max_rows:
            keep[:] = False
            keep[rng.choice(len(y), cfg.tune_max_rows, replace=False)] = True
        rows = np.flatnonzero(keep)
        tune_folds = []
        for tr_k, va_k in folds(y[rows], groups[rows], cfg.folds, cfg.seed + 1, cfg.group_col is not None):
            tr, va = rows[tr_k], rows[va_k]
            pre = Preprocessor(types, cfg.seed)
            w = None if self.weight is None else self.weight[tr]
            X_train = pre.fit_transform(X.iloc[tr], y[tr], w)
            stop = None if self.stop_groups is None else self.stop_groups[tr]
            tune_folds.append((X_train, y[tr], pre.transform(X.iloc[va]), y[va], stop, w))
        # after tuning: the out-of-fold fits (one trial's work on the full development rows) and the final fit
        reserve = (1.0 + 1.5 / cfg.folds) * len(y) / len(rows)
        self.params, history, tuned_rounds = _xgb.tune(tune_folds, self.monotone, self.pos_weight, cfg.seed,
                                                       cfg.trials, cfg.time_budget, cfg.device, cfg.n_jobs,
                                                       self.smote, workers, deadline=deadline, reserve=reserve,
                                                       on_trial=on_trial)  # fmt: skip
        # the rounds fit a fold of every development row; on a sample they would be too few for the full folds.
        # They are chosen on the tuning folds' validation rows, as the parameters are (a selection as optimistic
        # as the tuning's, never reaching the test rows)
        self.rounds = tuned_rounds if keep.all() else None
        return history


#: called after each fold or trial: (done, total)
Step = Callable[[int, int], None]


def xgb_oof(
    fold_data: list[Fold],
    fit: Callable[[Fold], Any],
    workers: int,
    n: int,
    on_fold: Step | None = None,
    margin: Callable[[Any, pd.DataFrame], np.ndarray] = _xgb.margin,
    extra_out: np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold margins of a tree family (XGBoost; LightGBM with its ``margin``): ``fit`` of each fold,
    ``workers`` folds at a time in threads (both libraries train outside the GIL), each booster scoring its
    fold's validation rows; ``on_fold(done, folds)`` after each fold. ``extra_out`` (folds × extra rows) takes
    each fold's margins on its ``X_extra``."""
    done = [0]
    lock = Lock()

    def fit_one(fold: Fold) -> Any:
        booster = fit(fold)
        if on_fold is not None:
            with lock:
                done[0] += 1
                on_fold(done[0], len(fold_data))
        return booster

    if workers <= 1 or len(fold_data) <= 1:
        boosters = [fit_one(f) for f in fold_data]
    else:
        with ThreadPoolExecutor(min(workers, len(fold_data)), thread_name_prefix="fold") as pool:
            boosters = list(pool.map(fit_one, fold_data))
    out = np.full(n, np.nan)
    for i, (f, booster) in enumerate(zip(fold_data, boosters, strict=True)):
        out[f.valid] = margin(booster, f.X_valid)
        if extra_out is not None and f.X_extra is not None:
            extra_out[i] = margin(booster, f.X_extra)
    return out


def additive_oof(
    family: type[Scorecard | Linear],
    fold_data: list[Fold],
    monotone: dict[str, int],
    seed: int,
    n: int,
    on_fold: Step | None = None,
    extra_out: np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold margins of a scorecard or logistic family, one fold at a time: these fits hold the GIL
    (threads would not help) and silence library warnings with warnings.catch_warnings, which is not
    thread-safe. ``extra_out``: as in :func:`xgb_oof`."""
    out = np.full(n, np.nan)
    for i, f in enumerate(fold_data):
        model = family().fit(f.X_train, f.y_train, monotone, seed, f.w_train)
        out[f.valid] = model.margin(f.X_valid)
        if extra_out is not None and f.X_extra is not None:
            extra_out[i] = model.margin(f.X_extra)
        if on_fold is not None:
            on_fold(i + 1, len(fold_data))
    return out


def network_oof(
    fold_data: list[Fold],
    fit: Callable[[Fold], Any],
    n: int,
    on_fold: Step | None = None,
    sequences: np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold margins of a network family, one fold at a time (TensorFlow sizes its own threads, and a
    seeded fit is deterministic only when nothing else runs in its graph); ``sequences``: the development rows'
    histories, for the sequence model."""
    out = np.full(n, np.nan)
    for i, f in enumerate(fold_data):
        net = fit(f)
        out[f.valid] = net.margin(_lgbm_array(f.X_valid), None if sequences is None else sequences[f.valid])
        if on_fold is not None:
            on_fold(i + 1, len(fold_data))
    return out


def network_inputs(pre: Preprocessor, monotone: dict[str, int]) -> tuple[list[int | None], list[int]]:
    """What a network family needs to know of each model column: its number of categories (None: a number)
    and its monotone direction."""
    sizes = [len(ct.categories) if ct.kind == "category" else None for ct in pre.types for _ in ct.outputs()]
    return sizes, [int(monotone.get(c, 0)) for c in pre.columns]
