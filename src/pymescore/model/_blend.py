"""Choosing among the families by out-of-fold AUC: blend weights in log-odds (steps of 0.1 summing to 1), the
blend itself, and the tables the training report shows (each candidate's AUCs, each fold's, why the blend)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from pymescore.model._families import BLEND_ORDER

#: the families, in the order of every weight tuple and margin tuple
FAMILIES = BLEND_ORDER
Weights = tuple[float, ...]
#: a family's short name in a blend's label
_SHORT = {"xgboost": "xgb"}


def auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """ROC AUC, ``None`` when ``y`` holds one outcome only."""
    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else None


def blend_grid(*used: bool) -> list[Weights]:
    """Weights (one per flag, in the flags' order) in steps of 0.1 that sum to 1, families not used at 0."""
    k = sum(used)
    out = []

    def parts(left: int, slots: int) -> list[list[int]]:
        if slots == 1:
            return [[left]]
        return [[i, *rest] for i in range(left, -1, -1) for rest in parts(left - i, slots - 1)]

    for tenths in parts(10, k) if k else []:
        it = iter(tenths)
        out.append(tuple(round(next(it) / 10, 1) if u else 0.0 for u in used))
    return sorted(out, reverse=True)


def blend(w: Weights, *margins: np.ndarray) -> np.ndarray:
    """The log-odds blend; a family with weight 0 is left out (its margins may be NaN: not fitted)."""
    z = np.zeros(len(margins[0]))
    for weight, m in zip(w, margins, strict=True):
        if weight > 0:
            z += weight * m
    return z


def choose_weights(
    y: np.ndarray, margins: tuple[np.ndarray, ...], used: tuple[bool, ...]
) -> tuple[Weights, dict[Weights, float]]:
    """The weights with the best out-of-fold AUC (to 4 decimals), and the AUC of every weight tried. Ties go to
    the families in blend order (more XGBoost, then more LightGBM, then more scorecard, then more logistic): the
    richer model first, then the ones reviewers know best, the network last."""
    aucs = {w: auc(y, blend(w, *margins)) or 0.0 for w in blend_grid(*used)}
    return max(aucs, key=lambda w: (round(aucs[w], 4), *w[:-1])), aucs


def label(weights: Weights, used: tuple[bool, ...]) -> str:
    """The selected model's name: a single family's, or ``blend (w_xgb=…, …)`` over the families used."""
    nonzero = [name for name, w in zip(FAMILIES, weights, strict=True) if w > 0]
    if len(nonzero) == 1:
        return nonzero[0]
    terms = [f"w_{_SHORT.get(n, n)}={w:.1f}" for n, w, u in zip(FAMILIES, weights, used, strict=True) if u]
    return f"blend ({', '.join(terms)})"


def candidates(
    y: np.ndarray,
    margins: tuple[np.ndarray, ...],
    used: tuple[bool, ...],
    weights: Weights,
    blend_auc: float,
    imbalance: str,
    comparison: dict[str, float | None] | None = None,
) -> list[dict[str, Any]]:
    """Each family used, the blend when more than one was, and (``comparison``: SMOTE was used) XGBoost with
    ``scale_pos_weight`` for comparison; each with its out-of-fold AUC and whether it was selected."""
    out: list[dict[str, Any]] = []
    for name, use, m in zip(FAMILIES, used, margins, strict=True):
        if use:
            row: dict[str, Any] = {"name": name, "oof_auc": auc(y, m)}
            if name == "xgboost":
                row["imbalance"] = imbalance
            out.append(row)
    if sum(used) > 1:
        terms = ", ".join(f"w_{_SHORT.get(n, n)}={w:.1f}" for n, w, u in zip(FAMILIES, weights, used, strict=True)
                          if u)  # fmt: skip
        out.append({"name": f"blend ({terms})", "oof_auc": blend_auc})
    if used[FAMILIES.index("xgboost")] and comparison is not None:
        out.append({"name": "xgboost (comparison)", "imbalance": "scale_pos_weight",
                    "oof_auc": comparison["scale_pos_weight"]})  # fmt: skip
    chosen = label(weights, used)
    for c in out:
        c["selected"] = c["name"] == chosen
    return out


def why(weights: Weights, aucs: dict[Weights, float], used: tuple[bool, ...], families_why: str) -> dict[str, Any]:
    """Why this blend: the families tried and why those, the selected weights, their out-of-fold AUC against
    each single family's and the best blend that leaves each family out (what the model card and report say)."""
    best = aucs[weights]
    single = {n: aucs.get(tuple(1.0 if m == n else 0.0 for m in FAMILIES)) for n, u in zip(FAMILIES, used, strict=True)
              if u}  # fmt: skip
    without = {}
    for k, (n, u) in enumerate(zip(FAMILIES, used, strict=True)):
        if u and sum(used) > 1:
            rest = [a for w, a in aucs.items() if w[k] == 0]
            without[n] = max(rest) if rest else None
    return {
        "families": [n for n, u in zip(FAMILIES, used, strict=True) if u],
        "families_why": families_why,
        "selected": label(weights, used),
        "weights": {n: w for n, w, u in zip(FAMILIES, weights, used, strict=True) if u},
        "oof_auc": best,
        "oof_auc_single": single,
        "oof_auc_best_without": without,
        "rule": "the weights on a 0.1 grid with the best out-of-fold AUC (to 4 decimals) on the development rows; "
        f"ties to the families in the order {', '.join(FAMILIES)}",
        "grid_size": len(aucs),
    }


def add_test_aucs(
    rows: list[dict[str, Any]], y: np.ndarray, family_margins: dict[str, np.ndarray | None], selected: np.ndarray
) -> None:
    """Each candidate's AUC on the test rows: a family's own margins where it was fitted in the final model,
    the selected blend's margins (``selected``) for the blend."""
    for c in rows:
        own = family_margins.get(str(c["name"]))
        if own is not None:
            c["test_auc"] = auc(y, own)
        elif c["selected"]:
            c["test_auc"] = auc(y, selected)


def fold_table(
    y: np.ndarray,
    validation: list[np.ndarray],
    margins: tuple[np.ndarray, ...],
    used: tuple[bool, ...],
    selected: np.ndarray,
) -> list[dict[str, Any]]:
    """Per fold: its validation rows and each family's out-of-fold AUC on them (None when not used)."""
    out = []
    for i, va in enumerate(validation):
        row: dict[str, Any] = {"fold": i, "rows": len(va)}
        for name, use, m in zip(FAMILIES, used, margins, strict=True):
            row[f"auc_{name}"] = auc(y[va], m[va]) if use else None
        row["auc_selected"] = auc(y[va], selected[va])
        out.append(row)
    return out
