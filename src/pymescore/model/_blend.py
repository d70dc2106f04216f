"""Choosing among the families by out-of-fold AUC: blend weights in log-odds (steps of 0.1 summing to 1), the
blend itself, and the tables the training report shows (each candidate's AUCs, each fold's)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

#: the families, in the order of every weight triple and margin triple
FAMILIES = ("xgboost", "scorecard", "logistic")
Weights = tuple[float, float, float]
_SINGLE: dict[Weights, str] = {(1.0, 0.0, 0.0): "xgboost", (0.0, 1.0, 0.0): "scorecard", (0.0, 0.0, 1.0): "logistic"}


def auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """ROC AUC, ``None`` when ``y`` holds one outcome only."""
    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else None


def blend_grid(use_xgb: bool, use_sc: bool, use_lr: bool) -> list[Weights]:
    """(XGBoost, scorecard, logistic) weights in steps of 0.1 that sum to 1, families not used at 0."""
    out = []
    for i in range(11):
        for j in range(11 - i):
            w = (i / 10, j / 10, round(1 - i / 10 - j / 10, 1))
            if all(used or x == 0 for used, x in zip((use_xgb, use_sc, use_lr), w, strict=True)):
                out.append(w)
    return out


def blend(w: Weights, *margins: np.ndarray) -> np.ndarray:
    """The log-odds blend; a family with weight 0 is left out (its margins may be NaN: not fitted)."""
    z = np.zeros(len(margins[0]))
    for weight, m in zip(w, margins, strict=True):
        if weight > 0:
            z += weight * m
    return z


def choose_weights(
    y: np.ndarray, margins: tuple[np.ndarray, np.ndarray, np.ndarray], used: tuple[bool, bool, bool]
) -> tuple[Weights, dict[Weights, float]]:
    """The weights with the best out-of-fold AUC (to 4 decimals), and the AUC of every weight tried. Ties go to
    more XGBoost, then more scorecard: the richer model, then the one reviewers know best."""
    aucs = {w: auc(y, blend(w, *margins)) or 0.0 for w in blend_grid(*used)}
    return max(aucs, key=lambda w: (round(aucs[w], 4), w[0], w[1])), aucs


def candidates(
    y: np.ndarray,
    margins: tuple[np.ndarray, np.ndarray, np.ndarray],
    used: tuple[bool, bool, bool],
    weights: Weights,
    blend_auc: float,
    imbalance: str,
    comparison: dict[str, float | None] | None = None,
) -> list[dict[str, Any]]:
    """Each family used, the blend when more than one was, and (``comparison``: SMOTE was used) XGBoost with
    ``scale_pos_weight`` for comparison; each with its out-of-fold AUC and whether it was selected."""
    use_xgb, use_sc, use_lr = used
    oof_x, oof_s, oof_l = margins
    out: list[dict[str, Any]] = []
    if use_xgb:
        out.append({"name": "xgboost", "oof_auc": auc(y, oof_x), "imbalance": imbalance})
    if use_sc:
        out.append({"name": "scorecard", "oof_auc": auc(y, oof_s)})
    if use_lr:
        out.append({"name": "logistic", "oof_auc": auc(y, oof_l)})
    if sum(used) > 1:
        w_x, w_s, w_l = weights
        out.append({"name": f"blend (w_xgb={w_x:.1f}, w_scorecard={w_s:.1f}, w_logistic={w_l:.1f})",
                    "oof_auc": blend_auc})  # fmt: skip
    if use_xgb and comparison is not None:
        out.append({"name": "xgboost (comparison)", "imbalance": "scale_pos_weight",
                    "oof_auc": comparison["scale_pos_weight"]})  # fmt: skip
    for c in out:
        c["selected"] = c["name"] == _SINGLE.get(weights, "blend") or (
            weights not in _SINGLE and str(c["name"]).startswith("blend")
        )
    return out


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
    margins: tuple[np.ndarray, np.ndarray, np.ndarray],
    used: tuple[bool, bool, bool],
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
