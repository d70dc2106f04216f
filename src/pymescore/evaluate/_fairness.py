"""Fairness slices: discrimination, approval and bad rates per group of firms (region, sector, size)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score

from pymescore.contracts._reference import DEPARTMENTS, ubigeo_districts
from pymescore.evaluate._metrics import as_float_array, check_outcomes, invalid

#: Label of a row whose group is missing or not a known code.
UNKNOWN = "desconocido"
LIMA_CALLAO = "Lima/Callao"
REST_OF_COUNTRY = "Resto del país"
LIMA_CALLAO_DEPARTMENTS = frozenset({"15", "07"})
#: Ley 30056 size classes as coded by the ``size_class`` feature.
SIZE_LABELS: dict[int, str] = {0: "micro", 1: "pequeña", 2: "mediana", 3: "grande"}
#: Groups with fewer rows than this are left out of ``fairness_gaps`` (their rates are too noisy).
MIN_GROUP_N = 100

FAIRNESS_COLUMNS = ("slice", "group", "n", "auc", "approval_rate", "observed_bad_rate", "mean_pd")


@cache
def department_macroregions() -> dict[str, str]:
    """INEI department code -> macro-region of the shipped UBIGEO table.

    A department whose districts span two macro-regions (Lima: Lima Metropolitana and Centro) takes the
    macro-region of its capital district (``DD0101``), where most of its firms are.
    """
    table = ubigeo_districts()
    codes = table["inei"].astype(str)
    regions = table["macroregion_inei"].astype(str)
    out: dict[str, str] = {}
    for dep in sorted(DEPARTMENTS):
        capital = regions[codes == f"{dep}0101"]
        in_dep = regions[codes.str.startswith(dep)]
        if len(capital):
            out[dep] = str(capital.iloc[0])
        elif len(in_dep):
            out[dep] = str(in_dep.mode().iloc[0])
    return out


def _department_codes(values: Any) -> list[str | None]:
    """Two-digit INEI codes (``'7'``, ``7`` and ``7.0`` all become ``'07'``); None when missing or unknown."""
    out: list[str | None] = []
    for v in np.asarray(values, dtype=object):
        code: str | None = None
        if isinstance(v, str):
            text = v.strip()
            code = text.zfill(2) if text.isdigit() else None
        elif _is_whole_number(v):
            code = f"{int(v):02d}"
        out.append(code if code in DEPARTMENTS else None)
    return out


def _is_whole_number(v: object) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, np.integer)):
        return True
    return isinstance(v, (float, np.floating)) and bool(np.isfinite(v)) and float(v).is_integer()


def _labels(values: Any) -> npt.NDArray[np.object_]:
    """Group labels as text, missing values as ``UNKNOWN``."""
    arr = np.asarray(values, dtype=object)
    return np.array([UNKNOWN if _missing(v) else str(v) for v in arr], dtype=object)


def _missing(v: object) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, (float, np.floating)) and np.isnan(v))


def _lima_callao(department: str | None) -> str:
    if department is None:
        return UNKNOWN
    return LIMA_CALLAO if department in LIMA_CALLAO_DEPARTMENTS else REST_OF_COUNTRY


def sme_slices(frame: pd.DataFrame) -> dict[str, pd.Categorical[Any]]:
    """Fairness slices of SME snapshot rows, for the columns the frame has.

    - ``lima_callao_vs_rest`` from ``department``: 15 (Lima) and 07 (Callao) -> "Lima/Callao", another known
      department -> "Resto del país", missing or unknown -> "desconocido";
    - ``macroregion`` from ``department`` through the shipped UBIGEO table (``macroregion_inei``);
    - ``ciiu_section`` (the CIIU Rev.4 section letter);
    - ``size_class`` (0-3) -> "micro", "pequeña", "mediana", "grande" (else "desconocido").

    Each slice is an ordered ``pd.Categorical`` aligned with the frame's rows.

    >>> s = sme_slices(pd.DataFrame({"department": ["15", "07", "20", None]}))
    >>> list(s["lima_callao_vs_rest"])
    ['Lima/Callao', 'Lima/Callao', 'Resto del país', 'desconocido']
    >>> list(s["macroregion"])
    ['LIMA METROPOLITANA', 'LIMA METROPOLITANA', 'NORTE', 'desconocido']
    """
    slices: dict[str, pd.Categorical[Any]] = {}
    if "department" in frame.columns:
        deps = _department_codes(frame["department"])
        lima = [_lima_callao(d) for d in deps]
        slices["lima_callao_vs_rest"] = pd.Categorical(lima, categories=[LIMA_CALLAO, REST_OF_COUNTRY, UNKNOWN])
        regions = department_macroregions()
        macro = [UNKNOWN if d is None else regions.get(d, UNKNOWN) for d in deps]
        slices["macroregion"] = pd.Categorical(macro, categories=[*sorted(set(regions.values())), UNKNOWN])
    if "ciiu_section" in frame.columns:
        sections = _labels(frame["ciiu_section"])
        known = sorted({s for s in sections if s != UNKNOWN})
        slices["ciiu_section"] = pd.Categorical(sections, categories=[*known, UNKNOWN])
    if "size_class" in frame.columns:
        sizes = pd.to_numeric(frame["size_class"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        size_labels = [SIZE_LABELS.get(int(v), UNKNOWN) if np.isfinite(v) else UNKNOWN for v in sizes]
        slices["size_class"] = pd.Categorical(size_labels, categories=[*SIZE_LABELS.values(), UNKNOWN])
    return slices


def _group_order(values: Any, labels: npt.NDArray[np.object_]) -> list[str]:
    present = set(labels.tolist())
    categories = getattr(values, "categories", None)
    if categories is None and isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        categories = values.cat.categories
    if categories is not None:
        ordered = [str(c) for c in categories if str(c) in present and str(c) != UNKNOWN]
        return ordered + sorted(present - set(ordered) - {UNKNOWN}) + ([UNKNOWN] if UNKNOWN in present else [])
    return sorted(present - {UNKNOWN}) + ([UNKNOWN] if UNKNOWN in present else [])


def fairness_table(
    frame: pd.DataFrame | None,
    y: Any,
    p: Any,
    score: Any,
    cutoff: float,
    slices: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Per slice and group: n, auc (None with one class), approval_rate (share with score ≥ cutoff),
    observed_bad_rate and mean_pd.

    ``slices`` maps a slice name to group labels aligned with ``y`` (missing labels become
    "desconocido"); when it is None, the slices are ``sme_slices(frame)``. Groups follow the order of a
    categorical's categories, else sorted text, with "desconocido" last.
    """
    y_arr, p_arr = check_outcomes(y, p)
    s_arr = as_float_array(score, "score")
    if len(s_arr) != len(y_arr):
        raise invalid(f"'y' and 'score' must have the same length. Got {len(y_arr)} and {len(s_arr)} instead.")
    if slices is None:
        if frame is None:
            raise invalid("fairness_table needs 'slices' or a 'frame' to derive them from. Got neither instead.")
        slices = sme_slices(frame)
    approved = s_arr >= cutoff
    rows: list[dict[str, object]] = []
    for name, values in slices.items():
        labels = _labels(values)
        if len(labels) != len(y_arr):
            raise invalid(f"Slice '{name}' must have one label per row ({len(y_arr)}). Got {len(labels)} instead.")
        for group in _group_order(values, labels):
            mask = labels == group
            yg = y_arr[mask]
            both = 0.0 < yg.mean() < 1.0
            rows.append(
                {
                    "slice": str(name),
                    "group": group,
                    "n": int(mask.sum()),
                    "auc": float(roc_auc_score(yg, p_arr[mask])) if both else None,
                    "approval_rate": float(approved[mask].mean()),
                    "observed_bad_rate": float(yg.mean()),
                    "mean_pd": float(p_arr[mask].mean()),
                }
            )
    table = pd.DataFrame(rows, columns=list(FAIRNESS_COLUMNS)).astype({"slice": object, "group": object, "n": "int64"})
    # keep None (not NaN) for an undefined AUC, so the table goes to JSON as it is
    table["auc"] = pd.Series([r["auc"] for r in rows], index=table.index, dtype=object)
    return table


def fairness_gaps(table: pd.DataFrame, min_n: int = MIN_GROUP_N) -> dict[str, dict[str, float | int | None]]:
    """Per slice, the largest differences between its groups with at least ``min_n`` rows.

    Returns ``{slice: {"auc_gap": max − min AUC (None with fewer than two AUCs), "approval_gap": max − min
    approval rate (None with fewer than two groups), "groups": number of groups compared}}``.

    >>> t = pd.DataFrame({"slice": ["s", "s", "s"], "group": ["a", "b", "c"], "n": [200, 150, 5],
    ...                   "auc": [0.80, 0.70, 0.10], "approval_rate": [0.9, 0.6, 0.0]})
    >>> g = fairness_gaps(t)["s"]
    >>> round(g["auc_gap"], 4), round(g["approval_gap"], 4), g["groups"]
    (0.1, 0.3, 2)
    """
    gaps: dict[str, dict[str, float | int | None]] = {}
    for name, part in table.groupby("slice", sort=False):
        big = part[part["n"] >= min_n]
        aucs = [float(a) for a in big["auc"] if a is not None and not _missing(a)]
        approvals = big["approval_rate"].to_numpy(dtype=np.float64)
        gaps[str(name)] = {
            "auc_gap": max(aucs) - min(aucs) if len(aucs) >= 2 else None,
            "approval_gap": float(approvals.max() - approvals.min()) if len(approvals) >= 2 else None,
            "groups": len(big),
        }
    return gaps
