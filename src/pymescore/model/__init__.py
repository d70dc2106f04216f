"""Modeling: typing, preprocessing, XGBoost, scorecard and logistic families, calibration, scorecard points, reasons."""

from pymescore.model._additive import column_map
from pymescore.model._config import ScoreScale, TrainConfig
from pymescore.model._domain import Domain
from pymescore.model._fitted import FeatureInfo, FittedModel
from pymescore.model._scale import score_from_pd
from pymescore.model._train import TrainResult, fit, train

__all__ = [
    "Domain",
    "FeatureInfo",
    "FittedModel",
    "ScoreScale",
    "TrainConfig",
    "TrainResult",
    "column_map",
    "fit",
    "score_from_pd",
    "train",
]
