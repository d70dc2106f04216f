"""Named random streams: each part of the simulation draws from its own stream of the seed.

Changing how one part draws never shifts the numbers another part gets.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt


def stream(seed: int, name: str) -> np.random.Generator:
    """A generator for ``name`` under ``seed`` (stable across runs and platforms)."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(name.encode()),)))


def sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Logistic function, vectorised."""
    out: npt.NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def weighted_choice(rng: np.random.Generator, weights: npt.ArrayLike, size: int) -> npt.NDArray[np.int64]:
    """Indices drawn with probability proportional to ``weights``."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    out: npt.NDArray[np.int64] = np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)
    return out
