"""The validation report of a bundle on a labelled table (``pymescore report``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.decision import Policy, current_policy, cutoff_line, policy_notice
from pymescore.errors import ConfigError
from pymescore.evaluate import ReportData, render_report, sme_slices
from pymescore.model_card import blend_why
from pymescore.runs import SAMPLE_NAMES, Rows, evaluation_rows, recorded_test_kind

_IMPORTANCE_ROWS = 20_000


def write_report(
    bundle: Bundle,
    frame: pd.DataFrame,
    target: str,
    positive: str | None,
    out: Path,
    policy: Policy | None = None,
    rows: Rows = "test",
    slices: Sequence[str] | None = None,
) -> Path:
    """The report of ``bundle`` on ``frame``'s evaluation rows (``rows="test"``: the test the bundle recorded,
    named for what it is; ``"all"``: every row, named as in-sample).

    The cut-offs and approval rates (fairness included) are ``policy``'s; for an SME bundle the policy in force
    when none is given, for a generic bundle none (no rates shown), since the SME policy means nothing on other
    data. ``slices`` names the fairness slices by column (default: the SME slices of an SME bundle, none
    otherwise). A note says when the bundle was validated with another policy."""
    snapshot = bool(bundle.model.metadata.get("snapshot"))
    if policy is None and snapshot:
        policy = current_policy()
    chosen = evaluation_rows(bundle, frame, target, positive, rows)
    rows_, y = chosen.rows, chosen.y
    model = bundle.model
    sample = rows_.sample(min(len(rows_), _IMPORTANCE_ROWS), random_state=0) if len(rows_) else rows_
    summary, points = model.explain(rows_)
    sample_points = points.loc[sample.index]
    importance = importance_frame(sample_points, {f.name: f.kind for f in model.features}, snapshot)
    m = bundle.metrics
    candidates = pd.DataFrame(m.get("candidates", [])) if m.get("candidates") else None
    oot = None
    if m.get("test_metrics"):
        kind = recorded_test_kind(m)
        oot = {"dates": m.get("test_dates", []), "kind": kind, "metrics": m["test_metrics"],
               "name": _capital(SAMPLE_NAMES.get(kind, kind))}  # fmt: skip
    notes = [
        "Importancia global = media del |impacto en puntos| (SHAP exacto de XGBoost y LightGBM + aportes exactos del "
        "scorecard y de la regresión logística). Global importance = mean |impact in points| (exact XGBoost and "
        "LightGBM TreeSHAP + exact scorecard and logistic-regression contributions).",
        "Bandas: tasa de malos acumulada desde la banda A hacia abajo / bands: cumulative bad rate from band A "
        "down. El KS del gráfico se mide sobre el score entero; el del resumen, sobre la PD / the KS plot uses "
        "the whole-point score, the summary the PD.",
    ]
    if policy is not None:
        notes.insert(1, f"Política / policy {policy.version}: {cutoff_line(policy)}. Las tasas usan solo estos "
                     "cortes de score, sin las reglas de exclusión ni de capacidad / the rates use these score "
                     "cut-offs alone, without the knock-out and capacity rules.")  # fmt: skip
        notice = policy_notice(m.get("policy"), policy, f"el paquete / bundle {bundle.version}")
        if notice:
            notes.insert(0, notice)
    if chosen.kind == "all":
        notes.insert(0, "Cifras en muestra: las filas dadas incluyen las de entrenamiento y halagan al modelo; la "
                     "prueba del entrenamiento está en su sección / in-sample figures: the rows given include "
                     "training rows and flatter the model; the training-time test is in its section.")  # fmt: skip
    cv = None
    if m.get("cv"):
        folds = [{"auc": f["auc_selected"], **{k: v for k, v in f.items() if k not in ("fold", "auc_selected")}}
                 for f in m["cv"]["folds"]]  # fmt: skip
        cv = {**m["cv"], "folds": folds}
    data = ReportData(
        title="pymescore — informe de validación / validation report",
        model_version=bundle.version,
        created=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        target=target,
        dataset=str(frame.attrs.get("source", "")),
        sample=chosen.label,
        sample_name=_capital(SAMPLE_NAMES.get(chosen.kind, chosen.kind)),
        default_definition=str(m.get("default_definition") or ""),
        n_train=int(m.get("rows", {}).get("development", 0)),
        y=y,
        pd_=summary["pd"].to_numpy(),
        score=summary["score"].to_numpy(),
        approve_min_score=None if policy is None else policy.approve_min_score,
        review_min_score=None if policy is None else policy.review_min_score,
        policy_version="" if policy is None else policy.version,
        slices=_slices(rows_, slices, snapshot),
        oot=oot,
        cv=cv,
        candidates=candidates,
        blend_why=blend_why(m["blend"]) if m.get("blend") else "",
        importance=importance,
        calibration_method=m.get("calibration", {}).get("method"),
        typing=pd.DataFrame(m.get("typing", [])) if m.get("typing") else None,
        notes=notes,
    )
    return render_report(data, out)


def importance_frame(points: pd.DataFrame, kinds: dict[str, str], snapshot: bool) -> pd.DataFrame:
    """Mean |impact in points| per feature, largest first; on a snapshot each feature's group and its
    description as the chart's label (``label``, Spanish) and the table's (``description``, Spanish / English)."""
    importance = pd.DataFrame(
        {"feature": points.columns, "mean_abs_shap": np.abs(points.to_numpy()).mean(axis=0)}
    ).sort_values("mean_abs_shap", ascending=False)
    if snapshot:
        from pymescore.features import BY_NAME

        names = [str(f) for f in importance["feature"]]
        importance["group"] = [BY_NAME[f].group if f in BY_NAME else kinds.get(f, "") for f in names]
        importance["label"] = [BY_NAME[f].description_es if f in BY_NAME else f for f in names]
        importance["description"] = [
            f"{BY_NAME[f].description_es} / {BY_NAME[f].description_en}" if f in BY_NAME else "—" for f in names
        ]
    return importance


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _slices(rows: pd.DataFrame, names: Sequence[str] | None, snapshot: bool) -> dict[str, Any] | None:
    """The fairness slices: the named columns (``--slices``), else an SME bundle's regional and sector slices."""
    if names:
        missing = [c for c in names if c not in rows.columns]
        if missing:
            raise ConfigError(
                f"--slices: expected columns of the table, got {', '.join(missing)} (the table has "
                f"{', '.join(map(str, rows.columns))})"
            )
        return {c: rows[c].to_numpy() for c in names}
    return dict(sme_slices(rows)) if snapshot else None
