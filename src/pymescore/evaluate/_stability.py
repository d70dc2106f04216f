"""Population stability: PSI between two distributions, and reference bins stored in a model bundle.

A reference is a JSON-ready dict built once on the training rows (``reference_bins``) and compared later
with the rows being scored (``psi_against_reference``). Numeric values use quantile bins of the reference
with the missing share as one more bin; categorical values use one bin per category seen in the
reference, plus one for missing values and one for categories never seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.evaluate._metrics import F64, invalid

#: PSI below ``stable`` is stable; from ``stable`` to below ``act``, watch; from ``act`` on, act.
PSI_THRESHOLDS: dict[str, float] = {"stable": 0.1, "act": 0.25}
#: Proportion given to an empty bin so that the logarithm stays finite.
PSI_EPSILON = 1e-4
#: Keys of the missing bin and of the bin of categories not seen in the reference.
MISSING_KEY = "__missing__"
OTHER_KEY = "__other__"

#: Fewest rows on which a PSI is read as drift: below it, sampling noise alone gives PSIs above 0.25 (a dozen
#: rows in ten bins), so the verdict is "insufficient", not "act" and never "stable".
MIN_PSI_SAMPLE = 200

Verdict = Literal["stable", "watch", "act", "unknown", "insufficient"]
#: verdicts from best to worst: a PSI that could not be computed ("unknown") or was computed on too few rows
#: ("insufficient") ranks above "act" (monitoring fails closed)
SEVERITY: dict[Verdict, int] = {"stable": 0, "watch": 1, "act": 2, "unknown": 3, "insufficient": 4}
#: the verdicts that fail a monitoring run and raise an alert
ALERTS: frozenset[Verdict] = frozenset({"act", "unknown", "insufficient"})


def _proportions(values: Any, name: str) -> F64:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(f"'{name}' must be numeric counts or proportions. Got non-numeric values instead.") from None
    if arr.ndim != 1 or len(arr) == 0:
        raise invalid(f"'{name}' must be a non-empty 1-D sequence. Got shape {arr.shape} instead.")
    if not np.isfinite(arr).all() or (arr < 0).any() or arr.sum() <= 0:
        raise invalid(f"'{name}' must be finite, non-negative and sum to more than 0. Got other values instead.")
    out: F64 = arr / arr.sum()
    return out


def psi(expected: Any, actual: Any) -> float:
    """Population stability index Σ (a − e) · ln(a / e) over bins, from counts or proportions.

    Each side is normalised to proportions; an empty bin counts as ``PSI_EPSILON``. Every term is ≥ 0,
    so the PSI is ≥ 0 and 0 for identical distributions.

    >>> psi([10, 20, 70], [1, 2, 7])
    0.0
    >>> round(psi([0.5, 0.5], [0.9, 0.1]), 4)
    0.8789
    """
    e = _proportions(expected, "expected")
    a = _proportions(actual, "actual")
    if len(e) != len(a):
        raise invalid(f"'expected' and 'actual' must have the same bins. Got {len(e)} and {len(a)} instead.")
    e = np.maximum(e, PSI_EPSILON)
    a = np.maximum(a, PSI_EPSILON)
    return float(max(np.sum((a - e) * np.log(a / e)), 0.0))


def psi_verdict(
    value: float | None,
    watch: float = PSI_THRESHOLDS["stable"],
    act: float = PSI_THRESHOLDS["act"],
    *,
    n: int | None = None,
    min_n: int = MIN_PSI_SAMPLE,
) -> Verdict:
    """The one verdict on a PSI (or CSI): ``"stable"`` below ``watch`` (0.1), ``"watch"`` from ``watch`` to below
    ``act`` (0.25), ``"act"`` from ``act`` on, and ``"unknown"`` when there is no PSI (``None``) or it is not a
    finite number; ``"insufficient"`` when ``n`` (the rows compared) is below ``min_n``, whatever the value.
    Fails closed: an unknown or insufficient PSI is never called stable; it ranks worst (``SEVERITY``) and,
    like ``"act"``, is an alert (``ALERTS``). A negative number is not a PSI of any distributions and is refused.

    >>> psi_verdict(0.05), psi_verdict(0.1), psi_verdict(0.25), psi_verdict(None), psi_verdict(float("nan"))
    ('stable', 'watch', 'act', 'unknown', 'unknown')
    >>> psi_verdict(4.84, n=12), psi_verdict(0.01, n=0), psi_verdict(0.01, n=200)
    ('insufficient', 'insufficient', 'stable')
    """
    if not 0 < watch < act:
        raise invalid(f"PSI thresholds must be 0 < watch < act. Got watch={watch}, act={act} instead.")
    if value is None or not np.isfinite(value):
        return "unknown"
    if n is not None and n < min_n:
        return "insufficient"
    if value < 0:
        raise invalid(f"A PSI must be a number >= 0. Got {value} instead.")
    if value < watch:
        return "stable"
    if value < act:
        return "watch"
    return "act"


def worst_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    """The worst of ``verdicts`` by ``SEVERITY``; ``"unknown"`` when there is none (nothing was measured).

    >>> worst_verdict(["stable", "act", "watch"]), worst_verdict([])
    ('act', 'unknown')
    """
    return max(verdicts, key=SEVERITY.__getitem__, default="unknown")


def _is_numeric(values: Any) -> bool:
    series = pd.Series(np.asarray(values) if not isinstance(values, pd.Series) else values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        return False
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return True
    kind = pd.api.types.infer_dtype(series, skipna=True)
    return kind in ("integer", "floating", "mixed-integer-float", "decimal", "empty")


def _numeric(values: Any, name: str) -> F64:
    try:
        return np.asarray(pd.to_numeric(pd.Series(values), errors="raise"), dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(f"'{name}' must be numeric for a numeric reference. Got non-numeric values instead.") from None


def _text(values: Any) -> npt.NDArray[np.object_]:
    arr = np.asarray(values, dtype=object)
    return np.array([None if pd.isna(v) else str(v) for v in arr], dtype=object)


def _numeric_shares(arr: F64, edges: list[float]) -> tuple[list[float], float]:
    missing = np.isnan(arr)
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), arr[~missing], side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    total = max(len(arr), 1)
    return [float(c / total) for c in counts], float(missing.sum() / total)


def reference_bins(values: Any, bins: int = 10) -> dict[str, Any]:
    """The distribution of ``values`` as a JSON-ready reference for ``psi_against_reference``.

    Numeric: ``{"kind": "numeric", "edges": [...], "proportions": [...], "nan_share": ..., "n": ...,
    "quartiles": [q25, q50, q75]}`` where ``edges`` are the inner quantile cut points (bins right-closed; the
    first and last bins are open-ended), ``proportions`` are shares of all rows, NaN excluded, and
    ``quartiles`` the exact quartiles of the known values (edges drop repeated quantiles, so they cannot
    give them back: with 56% zeros, the 25th percentile is 0, not the first edge above it). Categorical: ``{"kind":
    "categorical", "proportions": {category: share}, "nan_share": ..., "n": ...}``.

    >>> reference_bins([1.0, 2.0, 3.0, 4.0, None], bins=2)["proportions"]
    [0.4, 0.4]
    """
    if bins < 1:
        raise invalid(f"'bins' must be an int >= 1. Got {bins} instead.")
    if _is_numeric(values):
        arr = _numeric(values, "values")
        known = arr[~np.isnan(arr)]
        edges: list[float] = []
        quartiles: list[float] = []
        if len(known):
            quartiles = [float(q) for q in np.quantile(known, [0.25, 0.5, 0.75])]
            quantiles = np.quantile(known, np.linspace(0.0, 1.0, bins + 1)[1:-1])
            # an edge at the maximum would only make an empty last bin
            edges = [float(q) for q in np.unique(quantiles) if q < known.max()]
        proportions, nan_share = _numeric_shares(arr, edges)
        return {"kind": "numeric", "edges": edges, "proportions": proportions, "nan_share": nan_share, "n": len(arr),
                "quartiles": quartiles}  # fmt: skip
    text = _text(values)
    total = max(len(text), 1)
    present = pd.Series(text[[v is not None for v in text]], dtype=object).value_counts(sort=False)
    shares = {str(k): float(v / total) for k, v in sorted(present.items(), key=lambda kv: str(kv[0]))}
    nan_share = float(sum(v is None for v in text) / total)
    return {"kind": "categorical", "proportions": shares, "nan_share": nan_share, "n": len(text)}


def psi_against_reference(reference: dict[str, Any], values: Any) -> float:
    """PSI of ``values`` against a ``reference_bins`` reference (missing values are one more bin).

    >>> ref = reference_bins(["a", "a", "b", None])
    >>> psi_against_reference(ref, ["b", "a", None, "a"])
    0.0
    """
    kind = reference.get("kind")
    nan_share = float(reference.get("nan_share", 0.0))
    if kind == "numeric":
        edges = [float(e) for e in reference["edges"]]
        expected = [float(x) for x in reference["proportions"]]
        if len(expected) != len(edges) + 1:
            raise invalid(
                f"A numeric reference needs len(edges) + 1 proportions ({len(edges) + 1}). Got {len(expected)} instead."
            )
        actual, actual_nan = _numeric_shares(_numeric(values, "values"), edges)
        return psi([*expected, nan_share], [*actual, actual_nan])
    if kind == "categorical":
        shares: dict[str, float] = {str(k): float(v) for k, v in reference["proportions"].items()}
        text = _text(values)
        total = max(len(text), 1)
        counts = pd.Series(text[[v is not None for v in text]], dtype=object).value_counts()
        seen = {str(k): int(v) for k, v in counts.items()}
        actual_cat = [seen.get(k, 0) / total for k in shares]
        other = sum(v for k, v in seen.items() if k not in shares) / total
        missing = sum(v is None for v in text) / total
        return psi([*shares.values(), nan_share, 0.0], [*actual_cat, missing, other])
    raise invalid(f"A reference's 'kind' must be 'numeric' or 'categorical'. Got {kind!r} instead.")
