"""The network families' input encoding: the model matrix (numbers, categories as their codes, NaN missing) →
the float32 inputs of a network, fitted on the training rows, stored as JSON, and plain numpy (no TensorFlow:
the SavedModel export writes the same arithmetic as TF ops, ``_tf_export``).

Each number goes through its training quantiles (a monotone piecewise-linear map onto [-1.7, 1.7]: heavy tails
and outliers reach the network bounded, a value beyond the training range at the ends), its missing value
filled with the training median, plus a missing flag when the training rows had missing values. Each category
is one-hot, missing (or a code the training never saw) in a slot of its own. A number with a monotone
direction enters the network's *monotone* block multiplied by its direction (the network is non-decreasing in
that block); everything else (flags, one-hots, free numbers) enters the *free* block.

Every encoded input belongs to one model column (``owner``): an attribution of the inputs sums to its column.
The sequence model's monthly histories have their own encoding (:class:`SequenceEncoder`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the quantiles each number is mapped through, and the span of the mapped values
_KNOTS = 33
_SPAN = 1.7


@dataclass
class Encoder:
    """Fitted per model column: ``numbers`` (column, knots, their mapped values, fill, flag, direction) and
    ``categories`` (column, number of categories)."""

    numbers: list[dict[str, Any]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    n_columns: int = 0

    # -- fitting -----------------------------------------------------------------------------------
    @classmethod
    def fit(cls, X: np.ndarray, n_categories: list[int | None], monotone: list[int]) -> Encoder:
        """``n_categories[j]``: the number of categories of model column ``j`` (None: a number);
        ``monotone[j]``: its direction (+1 risk rises with it, -1 falls, 0 none)."""
        out = cls(n_columns=X.shape[1])
        for j, k in enumerate(n_categories):
            if k is not None:
                out.categories.append({"column": j, "size": int(k)})
                continue
            x = X[:, j]
            seen = x[~np.isnan(x)]
            if len(seen) == 0:
                continue  # never seen: no input at all
            q = np.quantile(seen, np.linspace(0.0, 1.0, _KNOTS))
            knots, first = np.unique(q, return_index=True)
            last = np.r_[first[1:], len(q)] - 1
            # tied quantiles (a discrete column) map to the middle of their ranks: still non-decreasing
            ranks = (first + last) / 2.0 / (len(q) - 1)
            values = (2.0 * ranks - 1.0) * _SPAN if len(knots) > 1 else np.zeros(1)
            out.numbers.append({
                "column": j,
                "knots": [float(v) for v in knots],
                "values": [float(v) for v in values],
                "fill": float(np.median(seen)),
                "flag": bool(len(seen) < len(x)),
                "direction": int(np.sign(monotone[j])) if len(knots) > 1 else 0,
            })  # fmt: skip
        return out

    # -- layout ----------------------------------------------------------------------------------
    @property
    def mono(self) -> list[dict[str, Any]]:
        return [v for v in self.numbers if v["direction"] != 0]

    @property
    def free_numbers(self) -> list[dict[str, Any]]:
        return [v for v in self.numbers if v["direction"] == 0]

    def widths(self) -> tuple[int, int]:
        """(monotone inputs, free inputs), each at least 1 (an empty block is one constant zero)."""
        free = len(self.free_numbers) + sum(v["flag"] for v in self.numbers) + sum(c["size"] + 1 for c in
                                                                                     self.categories)  # fmt: skip
        return max(1, len(self.mono)), max(1, free)

    def owners(self) -> tuple[np.ndarray, np.ndarray]:
        """The model column of each monotone and each free input (-1: the constant zero of an empty block)."""
        mono = [v["column"] for v in self.mono] or [-1]
        free = [v["column"] for v in self.free_numbers] + [v["column"] for v in self.numbers if v["flag"]]
        for c in self.categories:
            free += [c["column"]] * (c["size"] + 1)
        return np.asarray(mono, dtype=np.int64), np.asarray(free or [-1], dtype=np.int64)

    # -- encoding --------------------------------------------------------------------------------
    def transform(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(monotone block, free block) of the rows of the model matrix ``X``, float32."""
        n = len(X)
        mono_w, free_w = self.widths()
        mono = np.zeros((n, mono_w), dtype=np.float64)
        free = np.zeros((n, free_w), dtype=np.float64)
        for k, v in enumerate(self.mono):
            mono[:, k] = v["direction"] * _mapped(X[:, v["column"]], v)
        at = 0
        for v in self.free_numbers:
            free[:, at] = _mapped(X[:, v["column"]], v)
            at += 1
        for v in self.numbers:
            if v["flag"]:
                free[:, at] = np.isnan(X[:, v["column"]])
                at += 1
        for c in self.categories:
            code = X[:, c["column"]]
            slot = np.where(np.isnan(code) | (code < 0) | (code >= c["size"]), 0, np.nan_to_num(code) + 1)
            free[np.arange(n), at + slot.astype(np.int64)] = 1.0
            at += c["size"] + 1
        return mono.astype(np.float32), free.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"numbers": self.numbers, "categories": self.categories, "n_columns": self.n_columns}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Encoder:
        return cls([dict(v) for v in data["numbers"]], [dict(c) for c in data["categories"]], int(data["n_columns"]))


def _mapped(x: np.ndarray, v: dict[str, Any]) -> np.ndarray:
    """A number through its quantile map, missing as the fill (the training median)."""
    filled = np.where(np.isnan(x), v["fill"], x)
    return np.asarray(np.interp(filled, v["knots"], v["values"]), dtype=np.float64)


@dataclass
class SequenceEncoder:
    """The sequence model's histories (rows × months × channels, NaN where a month was not observed) as its
    network reads them, fitted on the training rows: a channel of 0/1 values (a mask) as it is; any other as
    ``sign(v)·log(1 + |v|)`` standardised by its training mean and deviation; a missing value 0 (its mask, a
    channel of its own, says it was missing). ``channels`` names them (the snapshot's ``seq_*`` columns): they are
    the sources the network's attributions to the histories go to."""

    channels: list[str] = field(default_factory=list)
    binary: list[bool] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, sequences: np.ndarray, channels: list[str]) -> SequenceEncoder:
        out = cls(list(channels))
        for c in range(sequences.shape[2]):
            v = sequences[:, :, c].astype(np.float64).ravel()
            v = v[~np.isnan(v)]
            binary = bool(np.isin(v, (0.0, 1.0)).all())
            u = _signed_log(v)
            out.binary.append(binary)
            out.mean.append(0.0 if binary or not len(u) else float(u.mean()))
            out.scale.append(1.0 if binary or not len(u) or u.std() == 0 else float(u.std()))
        return out

    def transform(self, sequences: np.ndarray | None, n: int, months: int) -> np.ndarray:
        """Float32 rows × months × channels; ``sequences`` None: no history at all (every month missing)."""
        if sequences is None:
            return np.zeros((n, months, len(self.channels)), dtype=np.float32)
        v = sequences.astype(np.float64)
        out = np.where(np.asarray(self.binary)[None, None, :], v,
                       (_signed_log(v) - np.asarray(self.mean)) / np.asarray(self.scale))  # fmt: skip
        return np.nan_to_num(out, nan=0.0).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"channels": self.channels, "binary": self.binary, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceEncoder:
        return cls(list(data["channels"]), [bool(b) for b in data["binary"]], [float(m) for m in data["mean"]],
                   [float(s) for s in data["scale"]])  # fmt: skip


def _signed_log(v: np.ndarray) -> np.ndarray:
    return np.asarray(np.sign(v) * np.log1p(np.abs(v)), dtype=np.float64)
