"""The fitted preprocessing: typed columns → model matrix. Fitted inside each training fold.

Target encoding is the only step that learns from the target: training rows get out-of-fold encodings
(5 folds), new rows the full-training encoding, an unseen category the prior; both smoothed with an
m-estimate. Categories are fixed by the typing, so an unseen value is missing, never a new code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pymescore.model._additive import column_map
from pymescore.model._typing import ColumnType, apply_type

_SMOOTHING = 20.0
_TE_FOLDS = 5


class Preprocessor:
    """Typed columns → a frame of float and categorical columns (what every family reads)."""

    def __init__(self, types: list[ColumnType], seed: int = 0) -> None:
        self.types = types
        self.seed = seed
        self.encodings_: dict[str, dict[str, float]] = {}
        self.prior_: float = 0.0

    @property
    def columns(self) -> list[str]:
        return [out for ct in self.types for out in ct.outputs()]

    @property
    def categorical(self) -> dict[str, tuple[str, ...]]:
        return {ct.column: ct.categories for ct in self.types if ct.kind == "category"}

    def source_of(self) -> dict[str, str]:
        """Model column → source column (date parts map back to their date)."""
        return {out: ct.column for ct in self.types for out in ct.outputs()}

    def _raw(self, frame: pd.DataFrame) -> dict[str, Any]:
        out: dict[str, Any] = {}
        # numeric columns that already hold numbers come out of column_map as float arrays, all in one
        # conversion (what apply_type does to each, at a fraction of the per-column cost on a few rows)
        given = column_map(frame) if frame.columns.is_unique else {}
        for ct in self.types:
            numbers = given.get(ct.column)
            if ct.kind == "numeric" and isinstance(numbers, np.ndarray):
                out[ct.column] = numbers
                continue
            values = frame[ct.column] if ct.column in frame.columns else pd.Series(np.nan, index=frame.index)
            out.update(apply_type(values, ct))
        return out

    def fit_transform(self, frame: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None = None) -> pd.DataFrame:
        """Fit on ``frame`` and transform it; ``weight`` (row weights, e.g. reject inference's) weighs the target
        encoding's means (None: every row 1)."""
        raw = self._raw(frame)
        y = np.asarray(y, dtype=np.float64)
        w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
        self.prior_ = _mean(y, w, 0.0, weight is None)
        encoded = [ct.column for ct in self.types if ct.kind == "target_encoded"]
        rng = np.random.default_rng(self.seed)
        fold = rng.integers(0, _TE_FOLDS, len(y))
        for col in encoded:
            keys = pd.Series(raw[col], dtype=object).fillna("__missing__").to_numpy()
            self.encodings_[col] = _encode_table(keys, y, self.prior_, None if weight is None else w)
            oof = np.empty(len(y))
            for k in range(_TE_FOLDS):
                inside = fold == k
                out = ~inside
                table = _encode_table(keys[out], y[out], _mean(y[out], w[out], self.prior_, weight is None),
                                      None if weight is None else w[out])  # fmt: skip
                oof[inside] = _lookup(table, keys[inside], self.prior_)
            raw[col] = oof
        return self._frame(raw, frame.index)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        raw = self._raw(frame)
        for ct in self.types:
            if ct.kind == "target_encoded":
                keys = pd.Series(raw[ct.column], dtype=object).fillna("__missing__").to_numpy()
                raw[ct.column] = _lookup(self.encodings_.get(ct.column, {}), keys, self.prior_)
        return self._frame(raw, frame.index)

    def _frame(self, raw: dict[str, Any], index: pd.Index) -> pd.DataFrame:
        """The model matrix: numbers in one float block (one pandas block, cheap to build and to read back),
        categories inserted at their places."""
        columns = self.columns
        numeric = [c for c in columns if not isinstance(raw[c], pd.Categorical)]
        block = np.empty((len(index), len(numeric)), dtype=np.float64)
        for j, c in enumerate(numeric):
            block[:, j] = np.asarray(raw[c], dtype=np.float64)
        frame = pd.DataFrame(block, index=index, columns=numeric)
        if len(numeric) < len(columns):
            for position, c in enumerate(columns):
                if isinstance(raw[c], pd.Categorical):
                    frame.insert(position, c, raw[c])
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "types": [ct.to_dict() for ct in self.types],
            "encodings": self.encodings_,
            "prior": self.prior_,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        types = [
            ColumnType(t["column"], t["kind"], t["rule"], t.get("fmt"), tuple(t.get("categories", ())))
            for t in data["types"]
        ]
        pre = cls(types, int(data.get("seed", 0)))
        pre.encodings_ = {k: {str(a): float(b) for a, b in v.items()} for k, v in data["encodings"].items()}
        pre.prior_ = float(data["prior"])
        return pre


def _mean(y: np.ndarray, w: np.ndarray, empty: float, plain: bool) -> float:
    """The (weighted) mean of ``y``; ``empty`` without rows (or weight)."""
    if not len(y):
        return empty
    if plain:
        return float(y.mean())
    total = float(w.sum())
    return float((w * y).sum() / total) if total > 0 else empty


def _encode_table(keys: np.ndarray, y: np.ndarray, prior: float, w: np.ndarray | None = None) -> dict[str, float]:
    if w is None:
        frame = pd.DataFrame({"k": keys, "y": y}).groupby("k")["y"].agg(["sum", "count"])
    else:  # weighted: sums of w·y over sums of w
        frame = pd.DataFrame({"k": keys, "sum": w * y, "count": w}).groupby("k")[["sum", "count"]].sum()
    values = (frame["sum"] + _SMOOTHING * prior) / (frame["count"] + _SMOOTHING)
    return {str(k): float(v) for k, v in values.items()}


def _lookup(table: dict[str, float], keys: np.ndarray, prior: float) -> np.ndarray:
    return np.array([table.get(str(k), prior) for k in keys], dtype=np.float64)
