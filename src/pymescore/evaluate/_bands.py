"""Score bands: a declared table of (name, lower score bound), best band first."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.evaluate._metrics import as_float_array, invalid

Bands = Sequence[tuple[str, float]]

#: Ordered best to worst; a band holds the scores from its lower bound (inclusive) up to the lower bound of
#: the band above it (exclusive). The last band also takes every score below its bound.
DEFAULT_BANDS: list[tuple[str, int]] = [("A", 640), ("B", 600), ("C", 570), ("D", 540), ("E", 300)]

BAND_COLUMNS = ("band", "score_from", "score_to", "n", "share", "bads", "bad_rate", "cumulative_bad_rate")


def _check_bands(bands: Bands) -> tuple[list[str], list[float]]:
    names = [str(name) for name, _ in bands]
    bounds = [float(bound) for _, bound in bands]
    if not names:
        raise invalid("'bands' must hold at least one (name, lower bound) pair. Got an empty list instead.")
    if len(set(names)) != len(names):
        raise invalid(f"'bands' names must be unique. Got {names} instead.")
    if any(b >= a for a, b in itertools.pairwise(bounds)) or not np.isfinite(bounds).all():
        raise invalid(f"'bands' lower bounds must be finite and strictly decreasing. Got {bounds} instead.")
    return names, bounds


def _band_index(score: npt.NDArray[np.float64], bounds: list[float]) -> npt.NDArray[np.intp]:
    if np.isnan(score).any():
        raise invalid("'score' must not hold NaN. Got NaN scores instead.")
    # number of bounds strictly above the score = index of its band (best band = 0)
    ascending = np.asarray(bounds[::-1], dtype=np.float64)
    above = len(bounds) - np.searchsorted(ascending, score, side="right")
    return np.minimum(above, len(bounds) - 1).astype(np.intp)


def assign_bands(score: Any, bands: Bands = DEFAULT_BANDS) -> npt.NDArray[np.str_]:
    """The band name of each score; a score equal to a band's lower bound belongs to that band.

    >>> assign_bands([700, 640, 639.5, 570, 540, 200]).tolist()
    ['A', 'A', 'B', 'C', 'D', 'E']
    """
    names, bounds = _check_bands(bands)
    idx = _band_index(as_float_array(score, "score"), bounds)
    return np.asarray(names)[idx]


def band_table(y: Any, score: Any, bands: Bands = DEFAULT_BANDS) -> pd.DataFrame:
    """Counts and bad rates per band, best band first.

    Columns: ``band``, ``score_from`` (inclusive), ``score_to`` (exclusive; ``None`` for the best band),
    ``n``, ``share``, ``bads``, ``bad_rate`` (NaN when the band is empty) and ``cumulative_bad_rate`` (bad
    rate of this band and all better ones: the bad rate if approving down to this band).
    """
    names, bounds = _check_bands(bands)
    y_arr = as_float_array(y, "y")
    s_arr = as_float_array(score, "score")
    if len(y_arr) != len(s_arr):
        raise invalid(f"'y' and 'score' must have the same length. Got {len(y_arr)} and {len(s_arr)} instead.")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise invalid("'y' must hold only 0 and 1. Got other values (or NaN) instead.")
    idx = _band_index(s_arr, bounds)
    k = len(names)
    n = np.bincount(idx, minlength=k)
    bads = np.bincount(idx, weights=y_arr, minlength=k).round().astype(np.int64)
    cum_n = np.cumsum(n)
    cum_bads = np.cumsum(bads)
    total = max(len(y_arr), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        bad_rate = np.where(n > 0, bads / np.maximum(n, 1), np.nan)
        cum_rate = np.where(cum_n > 0, cum_bads / np.maximum(cum_n, 1), np.nan)
    score_to: list[float | None] = [None, *bounds[:-1]]
    return pd.DataFrame(
        {
            "band": pd.Series(names, dtype=object),
            "score_from": pd.Series(bounds, dtype="float64"),
            "score_to": pd.Series(score_to, dtype=object),
            "n": pd.Series(n, dtype="int64"),
            "share": pd.Series(n / total, dtype="float64"),
            "bads": pd.Series(bads, dtype="int64"),
            "bad_rate": pd.Series(bad_rate, dtype="float64"),
            "cumulative_bad_rate": pd.Series(cum_rate, dtype="float64"),
        }
    )


def bands_monotone(table: pd.DataFrame) -> bool:
    """True when the bad rate never falls from the best band to the worst one (empty bands ignored).

    >>> bands_monotone(pd.DataFrame({"n": [10, 0, 10], "bad_rate": [0.01, float("nan"), 0.05]}))
    True
    """
    rates = table.loc[table["n"] > 0, "bad_rate"].to_numpy(dtype=np.float64)
    return bool(np.all(np.diff(rates) >= 0.0))


def band_inversions(table: pd.DataFrame, z: float = 1.96) -> list[str]:
    """Adjacent non-empty bands whose bad rate falls from the better band to the worse one by more than
    ``z`` standard errors (pooled two-proportion test); ``z = 0`` counts every fall.

    A band with a handful of defaults inverts by chance; a validator asks whether the fall is real.

    >>> t = pd.DataFrame({"band": ["A", "B"], "n": [40, 200], "bads": [2, 6], "bad_rate": [0.05, 0.03]})
    >>> band_inversions(t), band_inversions(t, z=0.0)
    ([], ['A 5.0% > B 3.0%'])
    """
    rows = table.loc[table["n"] > 0]
    out = []
    for (_, better), (_, worse) in itertools.pairwise(rows.iterrows()):
        fall = float(better["bad_rate"]) - float(worse["bad_rate"])
        if fall <= 0:
            continue
        n1, n2 = float(better["n"]), float(worse["n"])
        pooled = (float(better["bads"]) + float(worse["bads"])) / (n1 + n2)
        se = float(np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)))
        if fall > z * se:
            out.append(
                f"{better['band']} {float(better['bad_rate']):.1%} > {worse['band']} {float(worse['bad_rate']):.1%}"
            )
    return out
