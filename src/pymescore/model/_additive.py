"""What the linear-in-log-odds families (scorecard, logistic regression) share: per-variable contributions
plus an intercept, their sum as the margin, and a JSON form of the fitted variables."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import pandas as pd

from pymescore.errors import InputError

#: what the families read: a frame, or its columns by name (numbers as float arrays, categories as Categoricals)
Columns = pd.DataFrame | Mapping[str, Any]


def column_map(X: pd.DataFrame) -> dict[str, Any]:
    """``X``'s columns by name: numbers (and booleans) as float arrays, the plain ones taken out in one
    conversion; categories as Categoricals; other columns (dates, text) as their pandas arrays.

    The families read one column per variable; on a frame of a few rows each pandas column access costs
    more than the arithmetic on it, so a scoring call hands them this map instead (same values).
    """
    if not X.columns.is_unique:
        raise InputError(f"column_map needs unique column names, got {X.columns[X.columns.duplicated()].tolist()}")
    names = [str(c) for c in X.columns.tolist()]  # once: indexing a text Index costs microseconds per access
    dtypes = list(X.dtypes)
    numbers = [j for j, d in enumerate(dtypes) if isinstance(d, np.dtype) and d.kind in "fiub"]
    out: dict[str, Any] = {}
    if numbers:
        block = X.iloc[:, numbers].to_numpy(dtype=np.float64, na_value=np.nan)
        out.update({names[j]: block[:, k] for k, j in enumerate(numbers)})
    for j, d in enumerate(dtypes):
        if names[j] in out:
            continue
        column = X.iloc[:, j]
        if not isinstance(d, pd.CategoricalDtype) and (
            pd.api.types.is_numeric_dtype(d) or pd.api.types.is_bool_dtype(d)
        ):  # nullable numbers and booleans: floats, missing as NaN
            out[names[j]] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:  # categories as Categoricals, dates and text as their pandas arrays
            out[names[j]] = column.array
    return out


class Additive(ABC):
    def __init__(self) -> None:
        self.variables_: list[dict[str, Any]] = []
        self.intercept_: float = 0.0

    @abstractmethod
    def contributions(self, X: Columns) -> tuple[dict[str, np.ndarray], float]:
        """Per-variable log-odds contributions and the bias (intercept)."""

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        parts, bias = self.contributions(column_map(X))
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
