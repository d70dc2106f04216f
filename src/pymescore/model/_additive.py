"""What the linear-in-log-odds families (scorecard, logistic regression) share: per-variable contributions
plus an intercept, their sum as the margin, and a JSON form of the fitted variables."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self

import numpy as np
import pandas as pd


class Additive(ABC):
    def __init__(self) -> None:
        self.variables_: list[dict[str, Any]] = []
        self.intercept_: float = 0.0

    @abstractmethod
    def contributions(self, X: pd.DataFrame) -> tuple[dict[str, np.ndarray], float]:
        """Per-variable log-odds contributions and the bias (intercept)."""

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        parts, bias = self.contributions(X)
        return self.margin_from(parts, bias, len(X))

    @staticmethod
    def margin_from(parts: dict[str, np.ndarray], bias: float, n: int) -> np.ndarray:
        """The margin of already computed contributions: bias + their sum."""
        return bias + (np.sum(list(parts.values()), axis=0) if parts else np.zeros(n))

    def to_dict(self) -> dict[str, Any]:
        return {"intercept": self.intercept_, "variables": self.variables_}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        model = cls()
        model.intercept_ = float(data["intercept"])
        model.variables_ = list(data["variables"])
        return model
