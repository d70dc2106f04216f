"""What a training run's preparation (``_train``) hands its stages — the out-of-fold stage (``_train_oof``) and the
final fits (``_train_final``): the development rows, their folds and how each family is fitted on them; and the
progress callback every stage reports to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from pymescore.model._config import TrainConfig
from pymescore.model._lgbm import as_array
from pymescore.model._oof import Boosting, Fold, network_inputs
from pymescore.model._tf_net import TfNetwork
from pymescore.model._typing import ColumnType


class Progress(Protocol):
    """Told of each stage of training (``progress(stage)``, once, when it starts) and of each step inside it
    (``progress(stage, done, total)``: a fold, a tuning trial)."""

    def __call__(self, stage: str, done: int | None = None, total: int | None = None, /) -> None: ...


@dataclass(frozen=True)
class Development:
    """The development rows once prepared: rows ``0..n_known-1`` have known outcomes; reject inference's rows,
    when it ran, come after them (``_augment``)."""

    cfg: TrainConfig
    types: list[ColumnType]
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    grouped: bool  # folds, early stopping and the networks' validation on whole groups (``cfg.group_col``)
    sequences: np.ndarray | None  # each row's monthly histories (the sequence model's), else None
    channels: tuple[str, ...]  # the histories' channels
    n_known: int
    augmented: bool  # reject inference added rows
    weight: np.ndarray | None  # row weights (reject inference); None: every row 1
    final_rows: np.ndarray  # the rows the final fit is on
    balance: float  # negatives over positives of the final fit's rows (weighted)
    folds: list[Fold]
    #: the folds the families other than XGBoost and the networks fit on: on a cluster their training parts are
    #: sampled (``cfg.sample_rows``), else they are ``folds``
    small_folds: list[Fold]
    monotone: dict[str, int]  # by model input (``model_monotone``)
    boosting: Boosting

    def fit_network(
        self, X: pd.DataFrame, y: np.ndarray, rows: np.ndarray, sequence: bool, explain: bool = False
    ) -> TfNetwork:
        """A network on development ``rows`` (``X``, ``y``: those rows, preprocessed); with ``sequence``, the
        sequence model reading their histories too."""
        sizes, directions = network_inputs(self.folds[0].pre, self.monotone)
        histories = self.sequences[rows] if sequence and self.sequences is not None else None
        groups = self.groups[rows] if self.grouped else None
        return TfNetwork.fit(as_array(X), y, sizes, directions, self.cfg.seed, groups, self.cfg.n_jobs,
                             explain=explain, sequences=histories, channels=list(self.channels))  # fmt: skip
