"""The validation report of a bundle on a labelled table (``pymescore report``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.decision import Policy, current_policy, cutoff_line, policy_notice
from pymescore.evaluate import ReportData, render_report, sme_slices
from pymescore.runs import evaluation_rows
from pymescore.tables import labelled

_IMPORTANCE_ROWS = 20_000


def write_report(
    bundle: Bundle, frame: pd.DataFrame, target: str, positive: str | None, out: Path, policy: Policy | None = None
) -> Path:
    """The report of ``bundle`` on ``frame``'s evaluation rows; its cut-offs, approval rates (fairness included) are
    ``policy``'s (default: the policy in force), and a note says so when the bundle was validated with another."""
    policy = policy if policy is not None else current_policy()
    chosen, sample_label = evaluation_rows(bundle, frame)
    rows, y = labelled(bundle, chosen, target, positive)
    model = bundle.model
    sample = rows.sample(min(len(rows), _IMPORTANCE_ROWS), random_state=0) if len(rows) else rows
    summary, points = model.explain(rows)
    sample_points = points.loc[sample.index]
    group = {f.name: f.kind for f in model.features}
    importance = pd.DataFrame(
        {"feature": sample_points.columns, "mean_abs_shap": np.abs(sample_points.to_numpy()).mean(axis=0)}
    ).sort_values("mean_abs_shap", ascending=False)
    if model.metadata.get("snapshot"):
        from pymescore.features import BY_NAME

        importance["group"] = [BY_NAME[f].group if f in BY_NAME else group.get(f, "") for f in importance["feature"]]
    m = bundle.metrics
    candidates = pd.DataFrame(m.get("candidates", [])) if m.get("candidates") else None
    oot = None
    if m.get("test_metrics"):
        oot = {"dates": m.get("test_dates", []), "kind": m.get("test_kind"), "metrics": m["test_metrics"]}
    notes = [
        "Importancia global = media del |impacto en puntos| (SHAP exacto de XGBoost + aportes exactos del scorecard "
        "y de la regresión logística). Global importance = mean |impact in points| (exact XGBoost TreeSHAP + exact "
        "scorecard and logistic-regression contributions).",
        f"Política / policy {policy.version}: {cutoff_line(policy)}. Las tasas usan solo estos cortes de score, sin "
        "las reglas de exclusión ni de capacidad / the rates use these score cut-offs alone, without the knock-out "
        "and capacity rules.",
        "Bandas: tasa de malos acumulada desde la banda A hacia abajo / bands: cumulative bad rate from band A "
        "down. El KS del gráfico se mide sobre el score entero; el del resumen, sobre la PD / the KS plot uses "
        "the whole-point score, the summary the PD.",
    ]
    notice = policy_notice(m.get("policy"), policy, f"el paquete / bundle {bundle.version}")
    if notice:
        notes.insert(0, notice)
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
        sample=f"{len(rows):,} — {sample_label}",
        default_definition=str(m.get("default_definition") or ""),
        n_train=int(m.get("rows", {}).get("development", 0)),
        y=y,
        pd_=summary["pd"].to_numpy(),
        score=summary["score"].to_numpy(),
        approve_min_score=policy.approve_min_score,
        review_min_score=policy.review_min_score,
        policy_version=policy.version,
        slices=sme_slices(rows) if model.metadata.get("snapshot") else None,
        oot=oot,
        cv=cv,
        candidates=candidates,
        importance=importance,
        calibration_method=m.get("calibration", {}).get("method"),
        typing=pd.DataFrame(m.get("typing", [])) if m.get("typing") else None,
        notes=notes,
    )
    return render_report(data, out)
