"""A fitted scoring model: preprocessing → XGBoost, LightGBM, scorecard and logistic margins → blend (log-odds) →
calibrated PD → score points → reasons. Everything it holds is JSON, an XGBoost booster or a LightGBM text
model: no pickle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from pymescore.model import _lgbm, _xgb
from pymescore.model._additive import Additive, column_map
from pymescore.model._calibration import Calibrator
from pymescore.model._config import ScoreScale
from pymescore.model._linear import Linear
from pymescore.model._preprocess import Preprocessor
from pymescore.model._scale import score_from_pd
from pymescore.model._scorecard import Scorecard


@dataclass
class FeatureInfo:
    """What the service and the reviewers need to know of each source column the model reads."""

    name: str
    kind: str
    monotone: int = 0
    reason_es: str = ""
    reason_en: str = ""


@dataclass
class FittedModel:
    preprocessor: Preprocessor
    booster: xgb.Booster | None
    scorecard: Scorecard | None
    weight: float  # of XGBoost in the log-odds blend
    calibrator: Calibrator
    scale: ScoreScale
    features: list[FeatureInfo]
    target: str = "target"
    positive: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    linear: Linear | None = None
    linear_weight: float = 0.0  # of the logistic regression
    lightgbm: Any | None = None  # a lightgbm.Booster (the lightgbm extra)
    lightgbm_weight: float = 0.0  # the scorecard has 1 - weight - linear_weight - lightgbm_weight

    @property
    def weights(self) -> dict[str, float]:
        """Each family's weight in the log-odds blend (the built families, in blend order)."""
        return {"xgboost": self.weight, "lightgbm": self.lightgbm_weight,
                "scorecard": round(1.0 - self.weight - self.linear_weight - self.lightgbm_weight, 10),
                "logistic": self.linear_weight}  # fmt: skip

    def _additive(self) -> list[tuple[float, Additive]]:
        """The linear-in-log-odds families that take part in the blend, with their weights."""
        out: list[tuple[float, Additive]] = []
        w_sc = 1.0 - self.weight - self.linear_weight - self.lightgbm_weight
        if self.scorecard is not None and w_sc > 1e-9:
            out.append((w_sc, self.scorecard))
        if self.linear is not None and self.linear_weight > 1e-9:
            out.append((self.linear_weight, self.linear))
        return out

    # -- prediction ----------------------------------------------------------------------------
    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.preprocessor.transform(frame)

    def margin_of(self, X: pd.DataFrame, dm: xgb.DMatrix | None = None) -> np.ndarray:
        z = np.zeros(len(X))
        columns = column_map(X)  # read once, by the booster's matrix and by the additive families
        if self.booster is not None and self.weight > 0:
            z += self.weight * _xgb.margin(
                self.booster, dm if dm is not None else _xgb.scoring_matrix(X, columns=columns)
            )
        if self.lightgbm is not None and self.lightgbm_weight > 0:
            z += self.lightgbm_weight * _lgbm.margin(self.lightgbm, _lgbm.as_array(X, columns))
        for w, family in self._additive():
            parts, bias = family.contributions(columns)
            z += w * family.margin_from(parts, bias, len(X))
        return z

    def predict_pd(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_pd_matrix(self.matrix(frame))

    def predict_pd_matrix(self, X: pd.DataFrame) -> np.ndarray:
        """:meth:`predict_pd` of rows already preprocessed (``matrix(frame)``)."""
        return self.calibrator.predict(self.margin_of(X))

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``pd`` and ``score`` (integer points) per row."""
        p = self.predict_pd(frame)
        return pd.DataFrame({"pd": p, "score": np.rint(score_from_pd(p, self.scale)).astype(int)}, index=frame.index)

    # -- explanations --------------------------------------------------------------------------
    def contributions(self, X: pd.DataFrame, dm: xgb.DMatrix | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Log-odds contributions per source column (exact: bias + sum = the blended margin)."""
        parts, bias, _z = self._contributions_and_margin(X, dm)
        return parts, bias

    def _contributions_and_margin(
        self, X: pd.DataFrame, dm: xgb.DMatrix | None = None
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """:meth:`contributions` and the blended margin of :meth:`margin_of` (the same sums in the same order),
        each family's contributions computed once for both."""
        source = self.preprocessor.source_of()
        names = list(dict.fromkeys(source.values()))
        where = {name: k for k, name in enumerate(names)}
        parts = np.zeros((len(X), len(names)))
        bias = np.zeros(len(X))
        z = np.zeros(len(X))
        columns = column_map(X)  # read once, by the booster's matrix and by the additive families
        if self.booster is not None and self.weight > 0:
            matrix = dm if dm is not None else _xgb.scoring_matrix(X, columns=columns)
            contrib, b = _xgb.contributions(self.booster, matrix)
            target = np.array([where[source[c]] for c in X.columns.tolist()], dtype=np.int64)
            if len(set(target.tolist())) == len(target):  # one model column per source column (no date parts)
                parts[:, target] += self.weight * contrib
            else:
                for j, k in enumerate(target):
                    parts[:, k] += self.weight * contrib[:, j]
            bias += self.weight * b
            z += self.weight * _xgb.margin(self.booster, matrix)
        if self.lightgbm is not None and self.lightgbm_weight > 0:
            array = _lgbm.as_array(X, columns)
            contrib, b = _lgbm.contributions(self.lightgbm, array)
            for j, c in enumerate(X.columns.tolist()):
                parts[:, where[source[c]]] += self.lightgbm_weight * contrib[:, j]
            bias += self.lightgbm_weight * b
            z += self.lightgbm_weight * _lgbm.margin(self.lightgbm, array)
        for w, family in self._additive():
            family_parts, family_bias = family.contributions(columns)
            for col, values in family_parts.items():
                parts[:, where[source[col]]] += w * values
            bias += w * family_bias
            z += w * family.margin_from(family_parts, family_bias, len(X))
        return pd.DataFrame(parts, index=X.index, columns=names), bias, z

    def explain(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per row: ``pd``, ``score`` and the points each source column moved the score by.

        Points add up exactly: base score + Σ points = score (before clipping to the scale and rounding),
        where the base score is the score of the bias alone.
        """
        return self.explain_matrix(self.matrix(frame))

    def explain_matrix(self, X: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:meth:`explain` of rows already preprocessed (``matrix(frame)``)."""
        # the PD comes from the model's own margin (as predict_pd), not from the float32 SHAP sum, so that
        # explain and predict agree and monotone constraints hold exactly; the points are then scaled to it
        parts, bias, z = self._contributions_and_margin(X)
        p = self.calibrator.predict(z)
        s = score_from_pd(p, self.scale)
        s0, slope = points_slope(self.calibrator, self.scale, s, bias, parts.to_numpy().sum(axis=1))
        points = parts.mul(slope, axis=0)
        summary = pd.DataFrame({"pd": p, "score": np.rint(s).astype(int), "base_score": s0}, index=X.index)
        return summary, points


def points_slope(
    calibrator: Calibrator, scale: ScoreScale, s: np.ndarray, bias: np.ndarray, dz: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(the score of the bias alone, points per unit of log-odds) of each row, so that the base score plus the
    points of its parts (summing to ``dz``) is its score ``s``: the secant slope of the score in the margin,
    its derivative where the margin equals the bias."""
    s0 = score_from_pd(calibrator.predict(bias), scale)
    h = 1e-4
    slope_at_bias = (score_from_pd(calibrator.predict(bias + h), scale) - s0) / h
    slope = np.where(np.abs(dz) > 1e-9, (s - s0) / np.where(np.abs(dz) > 1e-9, dz, 1.0), slope_at_bias)
    return s0, slope
