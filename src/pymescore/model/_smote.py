"""SMOTE for mixed tables: synthetic minority rows, fitted on the rows it is given (a training fold only).

Each synthetic row lies between a minority row and one of its ``k`` nearest minority neighbours (Euclidean
distance on the standardised numeric columns, a missing value counted at its column's median for the
distance only). Numeric values are interpolated; a value missing in either parent is the base row's;
categorical values are the base row's (the SMOTE-NC choice for a nominal column).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors


def oversample(
    X: pd.DataFrame, y: np.ndarray, seed: int, ratio: float = 0.5, k: int = 5
) -> tuple[pd.DataFrame, np.ndarray]:
    """``X`` and ``y`` with synthetic minority (y = 1) rows appended until minority = ``ratio`` × majority.

    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 10.0, 11.0]})
    >>> Xs, ys = oversample(X, np.array([0, 0, 0, 0, 1, 1]), seed=0, ratio=1.0)
    >>> int(ys.sum()), bool(Xs["a"].iloc[6:].between(10.0, 11.0).all())
    (4, True)
    """
    y = np.asarray(y)
    minority = np.flatnonzero(y == 1)
    need = int(ratio * int((y == 0).sum())) - len(minority)
    if need <= 0 or len(minority) < 2:
        return X, y
    numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
    values = X.iloc[minority][numeric].to_numpy(dtype=np.float64, na_value=np.nan)
    filled = np.where(np.isnan(values), np.nanmedian(np.where(np.isnan(values), np.nan, values), axis=0), values)
    filled = np.nan_to_num(filled, nan=0.0)
    scale = filled.std(axis=0)
    scaled = filled / np.where(scale > 0, scale, 1.0)
    neighbours = min(k + 1, len(minority))
    _, index = NearestNeighbors(n_neighbors=neighbours).fit(scaled).kneighbors(scaled)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, len(minority), need)
    mate = index[base, rng.integers(1, neighbours, need)] if neighbours > 1 else base
    gap = rng.random((need, 1))
    a, b = values[base], values[mate]
    mixed = np.where(np.isnan(a) | np.isnan(b), a, a + gap * (b - a))
    synthetic = X.iloc[minority[base]].reset_index(drop=True)
    for j, col in enumerate(numeric):
        synthetic[col] = mixed[:, j]
    out = pd.concat([X.reset_index(drop=True), synthetic], ignore_index=True)
    for col in X.columns:  # concat keeps categories only when both sides share them: restore the dtype
        if isinstance(X[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(X[col].dtype)
    return out, np.concatenate([y, np.ones(need, dtype=y.dtype)])
