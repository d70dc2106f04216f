"""A fitted scoring model: preprocessing → XGBoost, scorecard and logistic margins → blend (log-odds) →
calibrated PD → score points → reasons. Everything it holds is JSON or an XGBoost booster: no pickle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from pymescore.model import _xgb
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
    linear_weight: float = 0.0  # of the logistic regression; the scorecard has 1 - weight - linear_weight

    def _additive(self) -> list[tuple[float, Additive]]:
        """The linear-in-log-odds families that take part in the blend, with their weights."""
        out: list[tuple[float, Additive]] = []
        w_sc = 1.0 - self.weight - self.linear_weight
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
        s0 = score_from_pd(self.calibrator.predict(bias), self.scale)
        dz = parts.to_numpy().sum(axis=1)
        # secant slope of the score in z; its derivative where the margin equals the bias
        h = 1e-4
        slope_at_bias = (score_from_pd(self.calibrator.predict(bias + h), self.scale) - s0) / h
        slope = np.where(np.abs(dz) > 1e-9, (s - s0) / np.where(np.abs(dz) > 1e-9, dz, 1.0), slope_at_bias)
        points = parts.mul(slope, axis=0)
        summary = pd.DataFrame({"pd": p, "score": np.rint(s).astype(int), "base_score": s0}, index=X.index)
        return summary, points

    def reasons(
        self, points: pd.DataFrame, top: int = 4, values: Mapping[str, Sequence[Any] | np.ndarray] | None = None
    ) -> list[list[dict[str, Any]]]:
        """The ``top`` reasons that pull each row's score down the most, with their texts.

        Columns whose reason reads the same (``dpd_mean_6m`` and ``dpd_max_6m``: «Atrasos en pagos
        recientes») are one reason, their points added (still an exact part of the score), under the code of
        the one that weighs most. ``values`` (the rows' source values by column) lets a reason tell a value
        that lowers the score from one that was not there: the model scores an absent value as it learnt
        absent values score, and the reason says what was absent — «Sin historial de pagos de préstamos»
        when no payments were sent, «No medible: …» with the feature's description when the history was too
        short or the ratio undefined — under the code ``<column>:missing``, never asserting a fact.
        """
        texts = {f.name: _texts(f) for f in self.features}
        out = []
        pts = points.to_numpy()
        cols = points.columns.tolist()
        for k, row in enumerate(pts):
            grouped: dict[str, dict[str, Any]] = {}
            for j in np.argsort(row):  # every column that pulls down, grouped first; the top chosen after
                if row[j] >= 0:
                    break
                name = cols[j]
                code, (es, en) = name, texts.get(name, (name, name))
                if values is not None and name in values and _absent(values[name][k]):
                    code, (es, en) = name + MISSING_SUFFIX, _absent_texts(name, values, k)
                if es in grouped:  # the code stays the heaviest column's (the first seen)
                    grouped[es]["impact_points"] += float(row[j])
                else:
                    grouped[es] = {"code": code, "text_es": es, "text_en": en, "impact_points": float(row[j])}
            picked = sorted(grouped.values(), key=lambda r: r["impact_points"])[:top]
            for r in picked:
                r["impact_points"] = round(r["impact_points"], 2)
            out.append(picked)
        return out


#: the suffix of a reason code whose value was absent (``dpd_current:missing``)
MISSING_SUFFIX = ":missing"


def _texts(f: FeatureInfo) -> tuple[str, str]:
    """A column's reason texts: the bundle's, else the current registry's (a bundle trained before its feature
    had one), else the column name (a generic table's)."""
    from pymescore.features import BY_NAME

    known = BY_NAME.get(f.name)
    es = f.reason_es or (known.reason_es if known else "") or f.name
    en = f.reason_en or (known.reason_en if known else "") or f.name
    return es, en


#: by the raw table a feature comes from: its coverage flag, what to say when that table was not sent, and
#: what to say when it was but held too little to measure the feature (too short a history, a ratio
#: undefined for a negative equity)
_ABSENT_TABLES: dict[str, tuple[str, tuple[str, str], tuple[str, str]]] = {
    "monthly_cashflows": ("has_cashflows", ("Sin flujos de caja recientes", "No recent cash flows"),
                          ("Historial de flujos de caja insuficiente", "Not enough cash-flow history")),
    "financial_statements": ("has_statements", ("Sin estados financieros presentados", "No filed financial statements"),
                             ("Estados financieros insuficientes para calcular sus ratios",
                              "Financial statements not enough to compute their ratios")),
    "payments": ("has_payments", ("Sin historial de pagos de préstamos", "No loan payment history"),
                 ("Historial de pagos insuficiente", "Not enough payment history")),
    "bureau_ratings": ("has_bureau", ("Sin reporte en la central de riesgos (SBS)", "No credit bureau (SBS) report"),
                       ("Historial en la central de riesgos insuficiente", "Not enough credit bureau history")),
}  # fmt: skip
_NOT_MEASURABLE = ("Dato no medible con la información enviada", "Not measurable from the data sent")
_NO_REGISTER = (
    "Sin datos de la empresa en el padrón (ubicación, actividad o inicio de actividades)",
    "No register data on the firm (location, activity or start of activities)",
)


def _absent_texts(name: str, values: Mapping[str, Sequence[Any] | np.ndarray], k: int) -> tuple[str, str]:
    """Why row ``k`` has no value of ``name``: its history was not sent, the register data were missing, or the
    value could not be measured from what was sent (too short a history, a ratio undefined)."""
    from pymescore.features import BY_NAME

    f = BY_NAME.get(name)
    if f is None:  # a generic table's column
        return f"Sin dato: {name}", f"No value: {name}"
    table = f.sources[0].split(".", 1)[0]
    if table == "firms" or f.group == "context":  # the register's fields, or what is looked up by them
        return _NO_REGISTER
    flag, not_sent, too_little = _ABSENT_TABLES.get(table, ("", _NOT_MEASURABLE, _NOT_MEASURABLE))
    if flag and flag in values and not _absent(values[flag][k]) and float(values[flag][k]) == 0:
        return not_sent
    return too_little


def _absent(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
