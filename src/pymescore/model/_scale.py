"""Scorecard points from a PD: score = offset − factor·ln(PD / (1 − PD)), clipped."""

from __future__ import annotations

import numpy as np

from pymescore.model._config import ScoreScale


def score_from_pd(pd_: np.ndarray, scale: ScoreScale) -> np.ndarray:
    p = np.clip(np.asarray(pd_, dtype=np.float64), 1e-12, 1 - 1e-12)
    raw = scale.offset - scale.factor * np.log(p / (1.0 - p))
    return np.clip(raw, scale.low, scale.high)
