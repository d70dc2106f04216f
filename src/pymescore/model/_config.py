"""Training settings: one frozen, validated object (scikit-learn style messages)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from pymescore.errors import ConfigError
from pymescore.model._families import FAMILIES


def _bad(name: str, expected: str, got: object) -> ConfigError:
    # named as the command line names it (``pymescore train --time-budget``), the library field after it
    flag = f"--{name.replace('_', '-')} ({name})" if name in _CLI_FLAGS else f"TrainConfig.{name}"
    return ConfigError(f"{flag}: expected {expected}, got {got!r}", parameter=name)


#: TrainConfig fields that ``pymescore train`` sets from a flag of the same name
_CLI_FLAGS = frozenset({"target", "positive", "group_col", "time_col", "monotone", "drop", "trials", "time_budget",
                        "seed", "holdout", "device", "imbalance", "families", "reject_inference",
                        "reject_factor"})  # fmt: skip
#: how rejected applications (rows without a target whose ``rejected_col`` is 1) enter training; see ``_reject``
REJECT_INFERENCE = ("none", "augmentation", "fuzzy", "parcelling", "hardcutoff")


@dataclass(frozen=True)
class ScoreScale:
    """score = offset − factor·ln(odds of default); ``base_score`` at good:bad odds ``base_odds``:1, ``pdo``
    points to double the odds, clipped to [``low``, ``high``]."""

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0
    low: float = 300.0
    high: float = 850.0

    def __post_init__(self) -> None:
        if self.pdo <= 0 or self.base_odds <= 0 or self.low >= self.high:
            raise ConfigError(f"ScoreScale needs pdo > 0, base_odds > 0 and low < high. Got {self}.")

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        # at odds of default 1/base_odds the score is base_score
        return self.base_score + self.factor * math.log(1.0 / self.base_odds)


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how.

    ``target`` is 1/0 (default/not) unless ``positive`` names the value meaning default. With ``time_col``,
    the latest observation dates (``oot_fraction`` of them) form an out-of-time test; otherwise
    ``holdout`` (a grouped, stratified share) is the test, 0 for none. ``monotone`` maps columns to
    +1/-1 (risk rises/falls with the column); ``None`` takes the feature registry's directions on SME
    snapshots. ``time_budget`` (seconds) bounds the whole training run: hyper-parameter tuning stops in time for
    the fits that follow it (the untuned defaults' trial always runs, so a budget smaller than one untuned
    training is overrun, and the report says so); ``trials`` caps tuning's trials.

    Rows without a target whose ``rejected_col`` is 1 are rejected applications: left out and counted with
    ``reject_inference="none"``, else inferred by that method (``_reject``; ``reject_factor`` scales the bad rate
    parcelling and the hard cut-off give them). The column is never a feature.
    """

    target: str
    positive: str | None = None
    group_col: str | None = None
    time_col: str | None = None
    monotone: dict[str, int] | None = None
    drop: tuple[str, ...] = ()
    trials: int = 20
    time_budget: float = 120.0
    seed: int = 0
    folds: int = 5
    oot_fraction: float = 0.2
    holdout: float = 0.0
    imbalance: Literal["scale_pos_weight", "smote", "none"] = "scale_pos_weight"
    calibration: Literal["auto", "platt", "isotonic"] = "auto"
    #: the families to train (see ``pymescore.model._families``); None: every built family whose library is installed
    families: tuple[str, ...] | None = None
    device: Literal["cpu", "cuda"] = "cpu"
    #: XGBoost threads. 1 by default: OpenMP threads busy-wait, and on a shared 2-core machine (or under
    #: pytest -n 2) two threads per process made monotone-constrained training up to 30× slower
    #: out of time on an SME snapshot, leave out of development the rows whose outcome window ends after the
    #: first test date: on that date their outcomes were not yet known, and through them a firm's future
    #: default (the same one its test row is labelled with) would reach the model that is tested
    embargo: bool = True
    n_jobs: int = 1
    #: fold models fitted at once, in threads (XGBoost trains outside the GIL; 5 out-of-fold boosters on the
    #: 80k-row benchmark: 30-36 s one at a time, 25 s two at a time). ``None``: the machine's cores, at most
    #: ``folds``. Results do not depend on it except through tuning's time budget and pruning rounds
    workers: int | None = None
    max_categories: int = 50
    tune_max_rows: int = 40_000
    reject_inference: Literal["none", "augmentation", "fuzzy", "parcelling", "hardcutoff"] = "none"
    rejected_col: str = "rejected"
    reject_factor: float = 1.0
    #: on a Dask cluster (``train --scheduler``), the families that do not run on it (scorecard, logistic,
    #: LightGBM) fit on a stratified sample of at most this many development rows (each fold's, and the final
    #: fit's); XGBoost fits every row on the cluster. The model card states the sample
    sample_rows: int = 200_000
    scale: ScoreScale = field(default_factory=ScoreScale)

    def __post_init__(self) -> None:
        if not isinstance(self.target, str) or not self.target:
            raise _bad("target", "a column name", self.target)
        if not (isinstance(self.trials, int) and 1 <= self.trials <= 10_000):
            raise _bad("trials", "an int in the range [1, 10000]", self.trials)
        if not 1.0 <= float(self.time_budget) <= 86_400:
            raise _bad("time_budget", "a number of seconds in the range [1, 86400]", self.time_budget)
        if not (isinstance(self.folds, int) and 2 <= self.folds <= 20):
            raise _bad("folds", "an int in the range [2, 20]", self.folds)
        if not 0.0 < self.oot_fraction < 0.9:
            raise _bad("oot_fraction", "a float in the range (0, 0.9)", self.oot_fraction)
        if not 0.0 <= self.holdout < 0.9:
            raise _bad("holdout", "a float in the range [0, 0.9)", self.holdout)
        if self.imbalance not in ("scale_pos_weight", "smote", "none"):
            raise _bad("imbalance", "one of scale_pos_weight, smote, none", self.imbalance)
        if self.calibration not in ("auto", "platt", "isotonic"):
            raise _bad("calibration", "one of auto, platt, isotonic", self.calibration)
        if self.families is not None and (not self.families or set(self.families) - set(FAMILIES)):
            raise _bad("families", f"None or a non-empty subset of ({', '.join(FAMILIES)})", self.families)
        if self.workers is not None and not (isinstance(self.workers, int) and 1 <= self.workers <= 64):
            raise _bad("workers", "None or an int in the range [1, 64]", self.workers)
        if self.reject_inference not in REJECT_INFERENCE:
            raise _bad("reject_inference", f"one of {', '.join(REJECT_INFERENCE)}", self.reject_inference)
        if not (isinstance(self.reject_factor, int | float) and 0.1 <= float(self.reject_factor) <= 10.0):
            raise _bad("reject_factor", "a number in the range [0.1, 10]", self.reject_factor)
        if self.reject_inference != "none" and self.imbalance == "smote":
            raise _bad("imbalance", "scale_pos_weight or none with --reject-inference (SMOTE makes rows that have no "
                       "weight, and reject inference weighs rows)", self.imbalance)  # fmt: skip
        if not (isinstance(self.sample_rows, int) and self.sample_rows >= 1_000):
            raise _bad("sample_rows", "an int of at least 1000", self.sample_rows)
        if self.device not in ("cpu", "cuda"):
            raise _bad("device", "cpu or cuda", self.device)
        for col, direction in (self.monotone or {}).items():
            if direction not in (-1, 0, 1):
                raise _bad("monotone", f"a map of columns to -1, 0 or +1 ({col!r} has another value)", direction)
