"""XGBoost on a Dask cluster (``xgboost.dask``): the same parameters, rounds and early stopping as
``_xgb.fit_booster``, the rows spread over the workers, one booster back (a plain ``xgboost.Booster``: the bundle,
the service and the explanations see no difference).

Only the boosting runs on the cluster; which rows are fitted and which stop it is decided before, by the same
code as in-process (``fit_booster``), so folds, the embargo and the early-stopping groups keep their meaning.
"""

from __future__ import annotations

import importlib
import itertools
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from pymescore.model._xgb import EARLY_STOPPING, MAX_ROUNDS, safe_names


def _workers(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def _matrix(client: Any, X: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None) -> Any:
    """A DaskDMatrix of the rows, one partition per worker (categories kept: XGBoost reads them natively). The
    partitions are handed to the workers once (scattered), never embedded in the task graph."""
    dd: Any = importlib.import_module("dask.dataframe")
    dxgb: Any = importlib.import_module("xgboost.dask")
    parts = min(_workers(client), max(1, len(X)))
    bounds = np.linspace(0, len(X), parts + 1).astype(int)
    data = X.set_axis(safe_names(list(X.columns)), axis=1).reset_index(drop=True)
    cuts = list(itertools.pairwise(bounds))

    def frame_of(chunks: list[pd.DataFrame] | list[pd.Series]) -> Any:
        return dd.from_delayed(client.scatter(chunks), meta=chunks[0].iloc[:0], verify_meta=False)

    label = pd.Series(np.asarray(y, dtype=np.float64))
    w = None if weight is None else pd.Series(np.asarray(weight, dtype=np.float64))
    return dxgb.DaskDMatrix(
        client,
        frame_of([data.iloc[a:b] for a, b in cuts]),
        frame_of([label.iloc[a:b] for a, b in cuts]),
        weight=None if w is None else frame_of([w.iloc[a:b] for a, b in cuts]),
        enable_categorical=True,
        missing=np.nan,
    )


def train_distributed(
    client: Any,
    config: dict[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    weight: np.ndarray | None,
    rounds: int | None,
    stop: tuple[pd.DataFrame, np.ndarray] | None,
) -> xgb.Booster:
    """``rounds`` rounds on every row, or (``stop``: the early-stopping rows) up to ``MAX_ROUNDS`` stopping
    ``EARLY_STOPPING`` rounds past the best, cut at the best round — as ``fit_booster`` does in-process."""
    dxgb: Any = importlib.import_module("xgboost.dask")
    dtrain = _matrix(client, X, y, weight)
    if rounds is not None or stop is None:
        out = dxgb.train(client, config, dtrain, num_boost_round=rounds or MAX_ROUNDS, verbose_eval=False)
        booster: xgb.Booster = out["booster"]
        return booster
    dstop = _matrix(client, stop[0], stop[1], None)
    out = dxgb.train(client, config, dtrain, num_boost_round=MAX_ROUNDS, evals=[(dstop, "stop")],
                     early_stopping_rounds=EARLY_STOPPING, verbose_eval=False)  # fmt: skip
    booster = out["booster"]
    return booster[: booster.best_iteration + 1]
