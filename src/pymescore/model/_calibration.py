"""Calibration of the PD on out-of-fold margins: Platt (logistic on the margin) or isotonic, chosen by
cross-validated log loss unless fixed. Parameters are plain numbers (JSON)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

_EPS = 1e-6


def _logloss(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.average(y * np.log(p) + (1 - y) * np.log(1 - p), weights=w))


class Calibrator:
    def __init__(self, method: str = "platt") -> None:
        self.method = method
        self.a_ = 1.0
        self.b_ = 0.0
        self.x_: list[float] = []
        self.y_: list[float] = []

    def fit(self, z: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> Calibrator:
        if self.method == "platt":
            model = LogisticRegression(C=1e6, max_iter=1000)
            model.fit(z.reshape(-1, 1), y, sample_weight=weight)
            self.a_, self.b_ = float(model.coef_[0, 0]), float(model.intercept_[0])
        else:
            iso = IsotonicRegression(out_of_bounds="clip", y_min=_EPS, y_max=1 - _EPS, increasing=True)
            iso.fit(z, y, sample_weight=weight)
            self.x_ = [float(v) for v in iso.X_thresholds_]
            self.y_ = [float(v) for v in iso.y_thresholds_]
        return self

    def predict(self, z: np.ndarray) -> np.ndarray:
        if self.method == "platt":
            return np.asarray(1.0 / (1.0 + np.exp(-(self.a_ * z + self.b_))), dtype=np.float64)
        return np.asarray(np.clip(np.interp(z, self.x_, self.y_), _EPS, 1 - _EPS), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a_, "b": self.b_, "x": self.x_, "y": self.y_}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        cal = cls(str(data["method"]))
        cal.a_, cal.b_ = float(data["a"]), float(data["b"])
        cal.x_, cal.y_ = list(data["x"]), list(data["y"])
        return cal


def choose_calibrator(
    z: np.ndarray, y: np.ndarray, method: str, seed: int, weight: np.ndarray | None = None
) -> tuple[Calibrator, dict[str, float]]:
    """Fit the calibrator; with ``auto``, the method with the lower 5-fold log loss on (z, y). ``weight``: row
    weights of the fits and the losses (reject inference's; None: every row 1)."""
    losses: dict[str, float] = {}

    def part(rows: np.ndarray) -> np.ndarray | None:
        return None if weight is None else weight[rows]

    if method == "auto":
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        for name in ("platt", "isotonic"):
            scores = []
            for tr, va in folds.split(z.reshape(-1, 1), y):
                cal = Calibrator(name).fit(z[tr], y[tr], part(tr))
                scores.append(_logloss(y[va], cal.predict(z[va]), part(va)))
            losses[name] = float(np.mean(scores))
        method = min(losses, key=lambda k: losses[k])
    return Calibrator(method).fit(z, y, weight), losses
