"""The validation report of a bundle on a labelled table (``pymescore report``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.evaluate import ReportData, render_report, sme_slices
from pymescore.runs import POLICY_CUTOFF, evaluation_rows, labelled

_IMPORTANCE_ROWS = 20_000


def write_report(bundle: Bundle, frame: pd.DataFrame, target: str, positive: str | None, out: Path) -> Path:
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
        f"Política / policy: aprobar si score ≥ {POLICY_CUTOFF}. Approve when score ≥ {POLICY_CUTOFF}.",
        "Bandas: tasa de malos acumulada desde la banda A hacia abajo / bands: cumulative bad rate from band A "
        "down. El KS del gráfico se mide sobre el score entero; el del resumen, sobre la PD / the KS plot uses "
        "the whole-point score, the summary the PD.",
    ]
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
        cutoff=POLICY_CUTOFF,
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
