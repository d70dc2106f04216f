"""A fitted scoring model: preprocessing → XGBoost, LightGBM, scorecard, logistic and network margins → blend
(log-odds) → calibrated PD → score points → reasons. Everything it holds is JSON, an XGBoost booster, a LightGBM
text model or a Keras network (``.keras``, loaded in safe mode): no pickle."""

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
from pymescore.model._tf_net import TfNetwork


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
    lightgbm_weight: float = 0.0
    tf_mlp: TfNetwork | None = None  # the tf extra
    tf_mlp_weight: float = 0.0
    tf_sequence: TfNetwork | None = None  # reads the monthly histories too (``sequences``)
    tf_sequence_weight: float = 0.0  # the scorecard has 1 - the other families' weights
    #: the reason texts of the histories' channels (the sequence model's sources beside the features)
    history_features: list[FeatureInfo] = field(default_factory=list)

    @property
    def scorecard_weight(self) -> float:
        others = self.weight + self.linear_weight + self.lightgbm_weight + self.tf_mlp_weight + self.tf_sequence_weight
        return round(1.0 - others, 10)

    @property
    def weights(self) -> dict[str, float]:
        """Each family's weight in the log-odds blend (the built families, in blend order)."""
        return {"xgboost": self.weight, "lightgbm": self.lightgbm_weight, "scorecard": self.scorecard_weight,
                "logistic": self.linear_weight, "tf_mlp": self.tf_mlp_weight,
                "tf_sequence": self.tf_sequence_weight}  # fmt: skip

    def _networks(self) -> list[tuple[float, TfNetwork]]:
        """The network families that take part in the blend, with their weights."""
        return [(w, net) for net, w in ((self.tf_mlp, self.tf_mlp_weight), (self.tf_sequence, self.tf_sequence_weight))
                if net is not None and w > 0]  # fmt: skip

    @property
    def channels(self) -> list[str]:
        """The monthly histories' channels the blend reads (the sequence model's; none without it): the
        snapshot's ``seq_*`` columns, and sources of points after the features'."""
        return [c for _, net in self._networks() for c in net.channels]

    def sources(self) -> list[str]:
        """The columns of the points: each source column of the features, then the histories' channels."""
        return [*dict.fromkeys(self.preprocessor.source_of().values()), *self.channels]

    def sequences(self, frame: pd.DataFrame) -> np.ndarray | None:
        """The rows' monthly histories from a table holding them (a snapshot built with ``--sequences``): rows ×
        months × channels; None when the blend reads none or the table has none (the rows then have none)."""
        channels = self.channels
        if not channels or not set(channels) <= set(frame.columns):
            return None
        months = self.months
        out = np.full((len(frame), months, len(channels)), np.nan, dtype=np.float32)
        for c, name in enumerate(channels):
            cells = frame[name].tolist()
            for r, cell in enumerate(cells):
                if cell is not None and len(cell) == months:
                    out[r, :, c] = np.asarray(cell, dtype=np.float32)
        return out

    def _additive(self) -> list[tuple[float, Additive]]:
        """The linear-in-log-odds families that take part in the blend, with their weights."""
        out: list[tuple[float, Additive]] = []
        w_sc = self.scorecard_weight
        if self.scorecard is not None and w_sc > 1e-9:
            out.append((w_sc, self.scorecard))
        if self.linear is not None and self.linear_weight > 1e-9:
            out.append((self.linear_weight, self.linear))
        return out

    @property
    def months(self) -> int:
        """Months of history per row the sequence model reads (0 without one)."""
        return next((net.months for _, net in self._networks() if net.channels), 0)

    def inputs(self) -> list[dict[str, Any]]:
        """The model row's columns in order (what a SavedModel export reads, and TF-Serving-style rows hold): name
        and categories (a category's value is its index there; None for a number); with a sequence model, then its
        histories month by month, oldest first (``seq_income_pen[-36]`` … ``[-1]``, each month's channels)."""
        cats = self.preprocessor.categorical
        columns = [{"name": out, "categories": list(cats[ct.column]) if ct.kind == "category" else None}
                   for ct in self.preprocessor.types for out in ct.outputs()]  # fmt: skip
        months = self.months
        history = [{"name": f"{c}[-{months - t}]", "categories": None} for t in range(months) for c in self.channels]
        return columns + history

    def split_inputs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows of :meth:`inputs` as (the model matrix, the histories: rows × months × channels, or None)."""
        n = len(self.preprocessor.columns)
        if not self.channels:
            return rows, None
        return rows[:, :n], rows[:, n:].reshape(len(rows), self.months, len(self.channels))

    # -- prediction ----------------------------------------------------------------------------
    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.preprocessor.transform(frame)

    def margin_of(
        self, X: pd.DataFrame, dm: xgb.DMatrix | None = None, sequences: np.ndarray | None = None
    ) -> np.ndarray:
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
        for w, net in self._networks():
            z += w * net.margin(_lgbm.as_array(X, columns), sequences)
        return z

    def predict_pd(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_pd_matrix(self.matrix(frame), self.sequences(frame))

    def predict_pd_matrix(self, X: pd.DataFrame, sequences: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict_pd` of rows already preprocessed (``matrix(frame)``, and ``sequences(frame)``)."""
        return self.calibrator.predict(self.margin_of(X, sequences=sequences))

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``pd`` and ``score`` (integer points) per row."""
        p = self.predict_pd(frame)
        return pd.DataFrame({"pd": p, "score": np.rint(score_from_pd(p, self.scale)).astype(int)}, index=frame.index)

    # -- explanations --------------------------------------------------------------------------
    def contributions(
        self, X: pd.DataFrame, dm: xgb.DMatrix | None = None, sequences: np.ndarray | None = None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Log-odds contributions per source (exact: bias + sum = the blended margin; a network's up to its
        Integrated Gradients' completeness error)."""
        parts, bias, _z = self._contributions_and_margin(X, dm, sequences)
        return parts, bias

    def _contributions_and_margin(
        self, X: pd.DataFrame, dm: xgb.DMatrix | None = None, sequences: np.ndarray | None = None
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """:meth:`contributions` and the blended margin of :meth:`margin_of` (the same sums in the same order),
        each family's contributions computed once for both."""
        source = self.preprocessor.source_of()
        names = self.sources()
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
        for w, net in self._networks():  # Integrated Gradients: they add up to the margin up to their error
            contrib, channels, b, margin = net.contributions(_lgbm.as_array(X, columns), sequences)
            for j, c in enumerate(X.columns.tolist()):
                parts[:, where[source[c]]] += w * contrib[:, j]
            for k, channel in enumerate(net.channels):
                parts[:, where[channel]] += w * channels[:, k]
            bias += w * b
            z += w * margin
        return pd.DataFrame(parts, index=X.index, columns=names), bias, z

    def explain(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per row: ``pd``, ``score`` and the points each source column moved the score by.

        Points add up exactly: base score + Σ points = score (before clipping to the scale and rounding),
        where the base score is the score of the bias alone.
        """
        return self.explain_matrix(self.matrix(frame), self.sequences(frame))

    def explain_matrix(self, X: pd.DataFrame, sequences: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:meth:`explain` of rows already preprocessed (``matrix(frame)``, and ``sequences(frame)``)."""
        # the PD comes from the model's own margin (as predict_pd), not from the float32 SHAP sum, so that
        # explain and predict agree and monotone constraints hold exactly; the points are then scaled to it
        parts, bias, z = self._contributions_and_margin(X, sequences=sequences)
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


#: the completeness error of a network's Integrated Gradients allowed per application, in points
COMPLETENESS_LIMIT_POINTS = 0.5


def completeness_points(model: FittedModel, X: pd.DataFrame, sequences: np.ndarray | None = None) -> np.ndarray:
    """Per row: how far, in points, the score of the contributions' sum (bias + Σ parts) is from the score
    (before rounding). Exact families give float rounding; a network's Integrated Gradients give their
    quadrature's error. The reasons' points are scaled so that they add up to the score exactly: this is the
    share of the score that the scaling spreads over them."""
    parts, bias, z = model._contributions_and_margin(X, sequences=sequences)
    score = score_from_pd(model.calibrator.predict(z), model.scale)
    from_parts = score_from_pd(model.calibrator.predict(bias + parts.to_numpy().sum(axis=1)), model.scale)
    return np.asarray(np.abs(score - from_parts), dtype=np.float64)


def explanation_report(
    model: FittedModel, X: pd.DataFrame, seed: int, sequences: np.ndarray | None = None, rows: int = 2000
) -> dict[str, Any] | None:
    """The networks' Integrated Gradients and the blend's completeness error in points on (up to ``rows`` of) the
    development rows ``X`` (None when no network is in the blend): what the model card reports."""
    networks = model._networks()
    if not networks:
        return None
    sample = np.sort(np.random.default_rng(seed).permutation(len(X))[:rows])
    error = completeness_points(model, X.iloc[sample], None if sequences is None else sequences[sample])
    networks_info = {net.name: {"ig_steps": net.ig_steps, "completeness_logodds": net.info.get("completeness_logodds")}
                     for _, net in networks}  # fmt: skip
    points = {"max": float(error.max(initial=0.0)), "mean": float(error.mean()),
              "p99": float(np.quantile(error, 0.99)) if len(error) else 0.0}  # fmt: skip
    return {
        "method": "Integrated Gradients against the mean encoded training row (and history), Gauss-Legendre quadrature",
        "family": ", ".join(net.name for _, net in networks),
        "ig_steps": max(net.ig_steps for _, net in networks),
        "networks": networks_info,
        "rows": len(sample),
        "completeness_points": points,
        "limit_points": COMPLETENESS_LIMIT_POINTS,
        "within": bool(error.max(initial=0.0) < COMPLETENESS_LIMIT_POINTS),
    }
