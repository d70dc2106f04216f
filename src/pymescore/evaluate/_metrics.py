"""Discrimination and calibration metrics of a probability of default against observed outcomes.

Every value returned is a plain Python number (or ``None``), so a metrics dict goes to JSON as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from pymescore.errors import PymescoreError

F64 = npt.NDArray[np.float64]

#: Probabilities are clipped to [LOGLOSS_EPS, 1 - LOGLOSS_EPS] before taking logarithms.
LOGLOSS_EPS = 1e-15
#: Number of equal-frequency bins of the expected calibration error.
ECE_BINS = 10


def invalid(message: str, **fields: object) -> PymescoreError:
    """The error every evaluation function raises for unusable inputs (code ``EVALUATE_INVALID_INPUT``)."""
    return PymescoreError(message, code="EVALUATE_INVALID_INPUT", **fields)


def as_float_array(values: Any, name: str) -> F64:
    """``values`` (numpy, pandas or a list) as a 1-D float64 array; raises when it cannot be one."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(f"'{name}' must be numeric. Got values that do not convert to float instead.") from None
    if arr.ndim != 1:
        raise invalid(f"'{name}' must be one-dimensional. Got shape {arr.shape} instead.")
    return arr


def check_outcomes(y: Any, p: Any, *, p_name: str = "p") -> tuple[F64, F64]:
    """Validated ``(y, p)``: same non-zero length, y in {0, 1}, p finite in [0, 1]."""
    y_arr = as_float_array(y, "y")
    p_arr = as_float_array(p, p_name)
    if len(y_arr) != len(p_arr):
        raise invalid(f"'y' and '{p_name}' must have the same length. Got {len(y_arr)} and {len(p_arr)} instead.")
    if len(y_arr) == 0:
        raise invalid("'y' must have at least one row. Got 0 rows instead.")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise invalid("'y' must hold only 0 and 1. Got other values (or NaN) instead.")
    if not (np.isfinite(p_arr).all() and (p_arr >= 0.0).all() and (p_arr <= 1.0).all()):
        raise invalid(f"'{p_name}' must hold probabilities in [0, 1]. Got values outside it (or NaN) instead.")
    return y_arr, p_arr


def quantile_bins(values: F64, bins: int) -> npt.NDArray[np.intp]:
    """Bin index (0-based) of each value in ``bins`` equal-frequency bins, right-closed.

    Edges are the quantiles of ``values``; tied values always share a bin, so with heavy ties there are
    fewer, larger bins (never an empty one).

    >>> quantile_bins(np.array([0.1, 0.2, 0.3, 0.4]), 2).tolist()
    [0, 0, 1, 1]
    >>> quantile_bins(np.array([0.5, 0.5, 0.5]), 10).tolist()
    [0, 0, 0]
    """
    if bins < 1:
        raise invalid(f"'bins' must be an int >= 1. Got {bins} instead.")
    inner = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    idx = np.searchsorted(inner, values, side="left")
    # drop the labels of empty bins (an edge equal to the maximum) so bins are numbered 0..k-1
    _, dense = np.unique(idx, return_inverse=True)
    return dense.astype(np.intp)


def _calibration_groups(y: F64, p: F64, bins: int) -> pd.DataFrame:
    b = quantile_bins(p, bins)
    grouped = pd.DataFrame({"bin": b, "y": y, "p": p}).groupby("bin", sort=True)
    out = grouped.agg(n=("y", "size"), mean_pd=("p", "mean"), observed_rate=("y", "mean")).reset_index()
    return out


def calibration_table(y: Any, p: Any, bins: int = 10) -> pd.DataFrame:
    """Reliability table over equal-frequency bins of ``p``: columns bin, n, mean_pd, observed_rate.

    >>> calibration_table([0, 1, 0, 1], [0.2, 0.2, 0.6, 0.6], bins=2).to_dict("list")
    {'bin': [0, 1], 'n': [2, 2], 'mean_pd': [0.2, 0.6], 'observed_rate': [0.5, 0.5]}
    """
    y_arr, p_arr = check_outcomes(y, p)
    table = _calibration_groups(y_arr, p_arr, bins)
    return table.astype({"bin": "int64", "n": "int64", "mean_pd": "float64", "observed_rate": "float64"})


def expected_calibration_error(y: Any, p: Any, bins: int = ECE_BINS) -> float:
    """Σ n_b / n · |mean(y_b) − mean(p_b)| over ``bins`` equal-frequency bins of ``p``."""
    y_arr, p_arr = check_outcomes(y, p)
    t = _calibration_groups(y_arr, p_arr, bins)
    weights = t["n"].to_numpy(dtype=np.float64) / len(y_arr)
    gaps = np.abs(t["observed_rate"].to_numpy(dtype=np.float64) - t["mean_pd"].to_numpy(dtype=np.float64))
    return float(np.sum(weights * gaps))


def ks_statistic(y: F64, p: F64) -> float:
    """Kolmogorov-Smirnov statistic: max over thresholds of TPR − FPR (needs both classes)."""
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def binary_metrics(y: Any, p: Any) -> dict[str, float | int | None]:
    """Discrimination and calibration of PDs ``p`` against 0/1 outcomes ``y`` (1 = default).

    Keys: ``auc``, ``gini`` (2·auc − 1), ``ks`` (max TPR − FPR), ``brier``, ``logloss`` (p clipped to
    [1e-15, 1 − 1e-15]), ``ece`` (10 equal-frequency bins), ``n``, ``positive_rate``, ``mean_pd``. When
    ``y`` holds one class only, ``auc``, ``gini`` and ``ks`` are ``None``; the rest is still computed.

    >>> m = binary_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> m["auc"], m["gini"], m["ks"], m["n"]
    (0.75, 0.5, 0.5, 4)
    >>> binary_metrics([0, 0], [0.1, 0.2])["auc"] is None
    True
    """
    y_arr, p_arr = check_outcomes(y, p)
    both = 0.0 < y_arr.mean() < 1.0
    auc = float(roc_auc_score(y_arr, p_arr)) if both else None
    clipped = np.clip(p_arr, LOGLOSS_EPS, 1.0 - LOGLOSS_EPS)
    logloss = -np.mean(y_arr * np.log(clipped) + (1.0 - y_arr) * np.log1p(-clipped))
    return {
        "auc": auc,
        "gini": None if auc is None else 2.0 * auc - 1.0,
        "ks": ks_statistic(y_arr, p_arr) if both else None,
        "brier": float(np.mean((p_arr - y_arr) ** 2)),
        "logloss": float(logloss),
        "ece": expected_calibration_error(y_arr, p_arr),
        "n": len(y_arr),
        "positive_rate": float(y_arr.mean()),
        "mean_pd": float(p_arr.mean()),
    }
