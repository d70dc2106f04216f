"""The linear family: logistic regression on the preprocessed columns, exported to JSON.

Numbers are winsorised at the training 0.5%/99.5% quantiles, missing values take the training median, and
the result is standardised; categories are one-hot encoded with missing as a level of its own (an unseen
value has no level and contributes 0). Contributions are exact: coefficient × standardised value per
number, the coefficient of its level per category, the intercept as bias. A column with a monotone
direction whose coefficient comes out with the opposite sign is dropped and the regression refitted, so
the model stays monotone as declared.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from pymescore.model._additive import Additive, Columns

MISSING = "__missing__"
_TAIL = 0.005


class Linear(Additive):
    # -- fitting ---------------------------------------------------------------------------------
    def fit(
        self, X: pd.DataFrame, y: np.ndarray, monotone: dict[str, int], seed: int = 0, weight: np.ndarray | None = None
    ) -> Linear:
        """Fit the regression; ``weight``: row weights (None: every row 1); the encodings are the rows' own."""
        from sklearn.linear_model import LogisticRegression

        variables = [v for c in X.columns if (v := _describe(c, X[c])) is not None]
        y = np.asarray(y)
        while True:
            design = _design(X, variables)
            if design.shape[1] == 0:
                p = float(np.clip(np.average(y, weights=weight), 1e-6, 1 - 1e-6))
                self.intercept_, self.variables_ = float(np.log(p / (1 - p))), []
                return self
            model = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=200, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # solver notes (convergence, near-singular designs): not errors
                model.fit(design, y, sample_weight=weight)
            coef, at = model.coef_[0], 0
            for v in variables:
                width = 1 if v["type"] == "numerical" else len(v["levels"])
                v["coef"] = [float(b) for b in coef[at : at + width]]
                at += width
            wrong = {
                v["name"]
                for v in variables
                if v["type"] == "numerical" and v["coef"][0] * monotone.get(v["name"], 0) < 0
            }
            if not wrong:
                break
            variables = [v for v in variables if v["name"] not in wrong]
        self.intercept_ = float(model.intercept_[0])
        self.variables_ = [v for v in variables if any(b != 0.0 for b in v["coef"])]
        return self

    # -- scoring ---------------------------------------------------------------------------------
    def contributions(self, X: Columns) -> tuple[dict[str, np.ndarray], float]:
        """Per-column log-odds contributions and the bias (intercept)."""
        return {v["name"]: _columns(X[v["name"]], v) @ np.asarray(v["coef"]) for v in self.variables_}, self.intercept_


def _describe(name: str, values: pd.Series) -> dict[str, Any] | None:
    """The fitted encoding of one column; None when it carries nothing (constant or empty)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        seen = [str(c) for c in values.dropna().unique()]
        levels = sorted(seen) + ([MISSING] if values.isna().any() else [])
        return {"name": name, "type": "categorical", "levels": levels} if len(levels) >= 2 else None
    x = np.asarray(values, dtype=np.float64)
    present = x[~np.isnan(x)]
    if len(present) == 0:
        return None
    lo, hi = (float(q) for q in np.quantile(present, [_TAIL, 1 - _TAIL]))
    median = float(np.median(present))
    filled = np.clip(np.where(np.isnan(x), median, x), lo, hi)
    scale = float(filled.std())
    if not np.isfinite(scale) or scale <= 0:
        return None
    return {"name": name, "type": "numerical", "low": lo, "high": hi, "median": median, "mean": float(filled.mean()),
            "scale": scale}  # fmt: skip


def _columns(values: pd.Series, v: dict[str, Any]) -> np.ndarray:
    """The design columns of one variable: n × 1 standardised number, or n × levels one-hot."""
    if v["type"] == "numerical":
        x = np.asarray(values, dtype=np.float64)
        filled = np.clip(np.where(np.isnan(x), v["median"], x), v["low"], v["high"])
        standard: np.ndarray = (filled - float(v["mean"])) / float(v["scale"])
        return standard[:, None]
    where = {level: j for j, level in enumerate(v["levels"])}
    text = pd.Series(values, dtype=object)
    idx = np.array([where.get(MISSING if pd.isna(c) else str(c), -1) for c in text], dtype=np.int64)
    out = np.zeros((len(idx), len(v["levels"])))
    known = idx >= 0
    out[np.flatnonzero(known), idx[known]] = 1.0
    return out


def _design(X: pd.DataFrame, variables: list[dict[str, Any]]) -> np.ndarray:
    blocks = [_columns(X[v["name"]], v) for v in variables]
    return np.hstack(blocks) if blocks else np.zeros((len(X), 0))
