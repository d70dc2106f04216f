"""The LightGBM family: leaf-wise boosted trees with native missing values and categories and the registry's
monotone constraints, fitted with fixed parameters (LightGBM's own defaults, which lead the peers on the small
public sets) on every training row: nothing is tuned, so its out-of-fold margins carry no selection on the rows
that weigh it in the blend. Reasons are TreeSHAP (``pred_contrib=True``): per column, plus the expected value as
bias, adding up to the margin. Stored in LightGBM's text model format (``model_to_string``), never pickled.

LightGBM is an extra (``pip install 'pymescore[lightgbm]'``): this module imports it only inside its functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pymescore.model._additive import column_map
from pymescore.model._families import require

#: LightGBM's defaults (100 rounds at 0.1, 31 leaves, 20 rows a leaf), made deterministic and monotone-aware
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_child_samples": 20,
    "max_bin": 255,
    "monotone_constraints_method": "intermediate",
    "deterministic": True,
    "force_col_wise": True,
    "verbose": -1,
}
ROUNDS = 100


def _lgb() -> Any:
    require("lightgbm", scoring=True)
    import lightgbm

    return lightgbm


def as_array(X: pd.DataFrame, columns: Mapping[str, Any] | None = None) -> np.ndarray:
    """The float matrix LightGBM reads: numbers as they are, categories as their codes, missing as NaN (the
    compiled model builds the same matrix at scoring)."""
    by_name = column_map(X) if columns is None else columns
    out = np.empty((len(X), X.shape[1]), dtype=np.float64)
    for j, name in enumerate(X.columns.tolist()):
        values = by_name[str(name)]
        if isinstance(values, pd.Categorical):
            out[:, j] = np.where(values.codes < 0, np.nan, values.codes)
        else:
            out[:, j] = values
    return out


def categorical_positions(X: pd.DataFrame) -> list[int]:
    return [j for j, d in enumerate(X.dtypes) if isinstance(d, pd.CategoricalDtype)]


def fit_booster(
    X: pd.DataFrame, y: np.ndarray, monotone: dict[str, int], seed: int, n_jobs: int = 1, rounds: int = ROUNDS,
    weight: np.ndarray | None = None,
) -> Any:  # fmt: skip
    """A LightGBM booster on every row of ``X`` (preprocessed): ``rounds`` rounds of :data:`DEFAULT_PARAMS`;
    ``weight``: row weights (None: every row 1)."""
    lgb = _lgb()
    names = [f"f{i}" for i in range(X.shape[1])]
    cats = categorical_positions(X)
    params = {
        **DEFAULT_PARAMS,
        "seed": seed,
        "num_threads": n_jobs,
        "monotone_constraints": [int(monotone.get(c, 0)) if j not in cats else 0 for j, c in enumerate(X.columns)],
    }
    data = lgb.Dataset(as_array(X), label=np.asarray(y, dtype=np.float64), weight=weight, feature_name=names,
                       categorical_feature=cats, free_raw_data=True, params={"verbose": -1})  # fmt: skip
    return lgb.train(params, data, num_boost_round=rounds)


def margin(booster: Any, X: pd.DataFrame | np.ndarray, nthread: int = 1) -> np.ndarray:
    data = X if isinstance(X, np.ndarray) else as_array(X)
    return np.asarray(booster.predict(data, raw_score=True, num_threads=nthread), dtype=np.float64)


def contributions(booster: Any, X: pd.DataFrame | np.ndarray, nthread: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Exact TreeSHAP contributions in log-odds: (n × features, bias per row); they add up to :func:`margin`."""
    data = X if isinstance(X, np.ndarray) else as_array(X)
    contrib = np.asarray(booster.predict(data, pred_contrib=True, num_threads=nthread), dtype=np.float64)
    return contrib[:, :-1], contrib[:, -1]


def to_text(booster: Any) -> str:
    return str(booster.model_to_string())


def from_text(text: str, where: str = "") -> Any:
    """A booster from its text model; ``where`` (a bundle's path) starts the error when LightGBM is missing."""
    require("lightgbm", where, scoring=True)
    import lightgbm

    return lightgbm.Booster(model_str=text)
