"""Confidence-based performance estimation (CBPE): what a cohort's AUC and defaults will be, from its PDs alone.

If the PDs are calibrated, firm i defaults with probability ``p_i`` independently of the others, so the pair
(i bad, j good) occurs with probability ``p_i (1 - p_j)``. The AUC is the share of (bad, good) pairs ranked the
right way (the bad one with the higher PD, ties counting half); its expected value is estimated by the ratio

    E[AUC] ≈ Σ_{i≠j} p_i (1 - p_j) · (1[p_i > p_j] + ½ 1[p_i = p_j]) / Σ_{i≠j} p_i (1 - p_j)

computed in O(n log n) by sorting (prefix sums of ``1 - p`` below each PD). Monte Carlo draws of the outcomes
give an interval for the AUC and for the default count. Nothing here knows about cohorts or monitoring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from pymescore.evaluate._metrics import F64, as_float_array, invalid


def _pds(p: Any) -> F64:
    arr = as_float_array(p, "p")
    if len(arr) == 0 or not np.isfinite(arr).all() or (arr < 0).any() or (arr > 1).any():
        raise invalid("'p' must be a non-empty sequence of PDs in [0, 1]. Got other values instead.")
    return arr


def expected_auc(p: Any) -> float | None:
    """The AUC the PDs ``p`` expect of themselves if they are calibrated (ratio of expectations over the pairs).

    ``None`` when no pair can be a (bad, good) pair (fewer than two firms, or every PD 0 or 1 on one side).

    >>> expected_auc([0.5, 0.5])
    0.5
    >>> round(expected_auc([0.0, 1.0]), 6)
    1.0
    >>> round(expected_auc([0.1, 0.2, 0.6]), 4)
    0.8571
    """
    arr = _pds(p)
    order = np.argsort(arr, kind="stable")
    ps = arr[order]
    good = 1.0 - ps
    values, first, counts = np.unique(ps, return_index=True, return_counts=True)
    below = np.concatenate(([0.0], np.cumsum(good)))  # below[k]: Σ (1 - p) over the k lowest PDs
    group_good = below[first + counts] - below[first]  # Σ (1 - p) within each group of equal PDs
    start = np.repeat(first, counts)
    tie_good = np.repeat(group_good, counts) - good  # equal PDs other than the firm itself
    num = float(np.sum(ps * (below[start] + 0.5 * tie_good)))
    den = float(np.sum(ps * (good.sum() - good)))
    if den <= 0.0 or len(values) == 0:
        return None
    return num / den


def draw_outcomes(p: Any, draws: int, seed: int = 0) -> tuple[F64, F64]:
    """AUC and default count of ``draws`` outcome vectors drawn from the PDs (Bernoulli, independent).

    An AUC is NaN in a draw with one class only."""
    arr = _pds(p)
    if draws < 1:
        raise invalid(f"'draws' must be an int >= 1. Got {draws!r} instead.")
    rng = np.random.default_rng(seed)
    ranks = rankdata(arr)  # average ranks: ties count half, as in roc_auc_score
    aucs = np.full(draws, np.nan)
    defaults = np.zeros(draws)
    for k in range(draws):
        y = rng.random(len(arr)) < arr
        n1 = int(y.sum())
        n0 = len(arr) - n1
        defaults[k] = n1
        if n1 and n0:
            aucs[k] = (float(ranks[y].sum()) - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return aucs, defaults


def estimate_performance(p: Any, *, draws: int = 200, level: float = 0.9, seed: int = 0) -> dict[str, Any]:
    """A cohort's expected performance from its PDs: ``auc`` (exact expectation), ``auc_low`` / ``auc_high``
    and ``defaults_low`` / ``defaults_high`` (central ``level`` interval of ``draws`` simulated outcome vectors),
    ``expected_defaults`` (Σ p) and ``default_rate`` (mean p). JSON-ready floats, ``None`` where undefined.

    >>> e = estimate_performance([0.02] * 50 + [0.3] * 50, draws=100)
    >>> round(e["expected_defaults"], 2), round(e["default_rate"], 3)
    (16.0, 0.16)
    """
    if not 0.0 < level < 1.0:
        raise invalid(f"'level' must be a float in the range (0, 1). Got {level!r} instead.")
    arr = _pds(p)
    aucs, defaults = draw_outcomes(arr, draws, seed)
    lo, hi = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    finite = aucs[np.isfinite(aucs)]
    auc = expected_auc(arr)
    return {
        "n": len(arr),
        "auc": None if auc is None else round(auc, 4),
        "auc_low": round(float(np.quantile(finite, lo)), 4) if len(finite) else None,
        "auc_high": round(float(np.quantile(finite, hi)), 4) if len(finite) else None,
        "expected_defaults": round(float(arr.sum()), 2),
        "defaults_low": float(np.quantile(defaults, lo)),
        "defaults_high": float(np.quantile(defaults, hi)),
        "default_rate": round(float(arr.mean()), 5),
    }


def calibration_in_the_large(y: Any, p: Any, tolerance: float) -> dict[str, Any]:
    """Observed against expected defaults of realised outcomes ``y``: ``observed``, ``expected`` (Σ p),
    ``ratio`` (observed / expected) and ``off`` — true when the ratio is outside ``1 ± tolerance`` *and* the gap
    exceeds two standard deviations of the default count under calibration (sampling noise alone is no drift).

    >>> calibration_in_the_large([1] * 30 + [0] * 70, [0.1] * 100, 0.25)["off"]
    True
    >>> calibration_in_the_large([1] * 11 + [0] * 89, [0.1] * 100, 0.25)["off"]
    False
    """
    y_arr = as_float_array(y, "y")
    arr = _pds(p)
    if len(y_arr) != len(arr):
        raise invalid(f"'y' and 'p' must have the same length. Got {len(y_arr)} and {len(arr)} instead.")
    observed, expected = float(y_arr.sum()), float(arr.sum())
    sd = float(np.sqrt(np.sum(arr * (1.0 - arr))))
    ratio = observed / expected if expected > 0 else None
    off = bool(ratio is not None and abs(ratio - 1.0) > tolerance and abs(observed - expected) > 2.0 * sd)
    return {"n": len(arr), "observed": observed, "expected": round(expected, 2),
            "ratio": None if ratio is None else round(ratio, 4), "off": off}  # fmt: skip
