"""The model-risk pack (Res. SBS 00053-2023, gestión del riesgo de modelo): the inventory record of a bundle —
identity, owner, purpose, tier, data and dates, methodology, validation figures, limitations, monitoring
thresholds and approvals — as JSON, and an HTML pack with the model card and the validation figures.

Every field comes from the bundle (its manifest, metrics and card) or the registry (owner and approvals, as
model-version tags written by ``pymescore approve-model``); a field nobody has recorded says so and is listed
under ``missing``, never filled with placeholder text.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

from pymescore.bundle import Bundle
from pymescore.errors import InputError
from pymescore.evaluate._stability import PSI_THRESHOLDS
from pymescore.files import write_atomic
from pymescore.gate import GatePolicy

ROLES = ("owner", "validator")
#: a validation figure past these is named as a limitation
LIMITS = {"auc_min": 0.70, "ece_max": 0.02, "fairness_auc_gap_max": 0.05, "fairness_approval_gap_max": 0.10}


def tier(automated_decisions: bool, complexity: str, exposure_share: float | None) -> tuple[int, str]:
    """Tier 1 (highest) to 3 from the use, the method's complexity and the share of the portfolio decided.

    A model that decides credit automatically, or one that is complex (a machine-learning blend), is tier 1; a
    simple model supporting a human decision on a small share is tier 3; the rest tier 2."""
    if automated_decisions or complexity == "high":
        return 1, "decide créditos de forma automatizada o es un ensamble de aprendizaje automático (alta complejidad)"
    if exposure_share is not None and exposure_share < 0.05:
        return 3, "apoya una decisión humana sobre menos del 5% de la cartera con un método simple"
    return 2, "apoya decisiones humanas con un método de complejidad media"


def inventory(bundle: Bundle, registry: dict[str, Any] | None = None, owner: str | None = None,
              purpose: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The inventory record of ``bundle``; ``registry`` holds the registered version's name, version and tags."""
    m = bundle.metrics
    tags = (registry or {}).get("tags", {})
    test = m.get("test_metrics") or {}
    cv = m.get("cv") or {}
    weights = m.get("blend_weights") or {}
    families = sorted(k for k, v in weights.items() if v)
    complexity = "high" if "xgboost" in families else "medium"
    level, why = tier(automated_decisions=True, complexity=complexity, exposure_share=None)
    approvals = {role: _approval(tags, role) for role in ROLES}
    record = {
        "id": f"{(registry or {}).get('name', 'pymescore')}/{(registry or {}).get('version', bundle.version)}",
        "version": bundle.version,
        "manifest_sha256": _manifest_digest(bundle),
        # the owner named here, else the registry's tag, else whoever approved the model as its owner
        "owner": owner or tags.get("owner") or (approvals["owner"] or {}).get("by"),
        "purpose": purpose or tags.get("purpose") or _purpose(m),
        "tier": {"level": level, "rationale": why},
        "data": {
            "default_definition": m.get("default_definition"),
            "target": m.get("target"),
            "rows": m.get("rows"),
            "observation_dates": m.get("observation_dates"),
            "test": {"kind": m.get("test_kind"), "dates": m.get("test_dates")},
        },
        "methodology": {
            "families": families,
            "blend_weights": weights,
            "calibration": (m.get("calibration") or {}).get("method"),
            "features": len(bundle.model.features),
            "monotone_features": sum(1 for f in bundle.model.features if f.monotone != 0),
            "validation": "grouped time-ordered cross-validation with embargo, then an untouched "
            + str(m.get("test_kind") or "holdout").replace("_", "-")
            + " test",
        },
        "validation": {
            "test": {k: test.get(k) for k in ("auc", "gini", "ks", "brier", "ece", "n", "positive_rate")},
            "cv_auc": {"mean": cv.get("mean_auc"), "folds": [f.get("auc_selected") for f in cv.get("folds", [])]},
            "bands_monotone": m.get("bands_monotone"),
            "fairness_gaps": m.get("fairness_gaps"),
        },
        "limitations": _limitations(m),
        "monitoring": {
            "psi_watch": PSI_THRESHOLDS["stable"],
            "psi_act": PSI_THRESHOLDS["act"],
            "max_auc_drop_vs_champion": GatePolicy().max_auc_drop,
            "fairness_gap_tolerance": GatePolicy().fairness_tolerance,
            "policy": m.get("policy"),
        },
        "approvals": approvals,
    }
    record["missing"] = [k for k in ("owner",) if not record[k]] + [
        f"approvals.{r}" for r, a in approvals.items() if a is None
    ]
    return record


def _manifest_digest(bundle: Bundle) -> str | None:
    if bundle.path is None or not (bundle.path / "manifest.json").exists():
        return None
    manifest = json.loads((bundle.path / "manifest.json").read_text(encoding="utf-8"))
    return str(manifest.get("manifest_sha256")) if manifest.get("manifest_sha256") else None


def _purpose(m: dict[str, Any]) -> str:
    if m.get("domain") == "sme_snapshot":
        return ("Probabilidad de incumplimiento a 12 meses y puntaje para decidir solicitudes de crédito de pequeñas "
                "y microempresas, con razones por decisión")  # fmt: skip
    return f"Probabilidad de `{m.get('target')}` sobre la población de la tabla de entrenamiento"


def _approval(tags: dict[str, str], role: str) -> dict[str, str] | None:
    by = tags.get(f"approval.{role}.by")
    if not by:
        return None
    return {"by": by, "at": tags.get(f"approval.{role}.at", ""), "note": tags.get(f"approval.{role}.note", "")}


def _limitations(m: dict[str, Any]) -> list[str]:
    out = []
    test = m.get("test_metrics") or {}
    if test.get("auc") is not None and test["auc"] < LIMITS["auc_min"]:
        out.append(f"AUC de prueba {test['auc']:.3f} por debajo de {LIMITS['auc_min']}")
    if test.get("ece") is not None and test["ece"] > LIMITS["ece_max"]:
        out.append(
            f"Error de calibración (ECE) {test['ece']:.3f} sobre {LIMITS['ece_max']}: recalibrar antes de usar PD"
        )
    for name, gap in (m.get("fairness_gaps") or {}).items():
        if (gap.get("auc_gap") or 0) > LIMITS["fairness_auc_gap_max"]:
            out.append(f"Brecha de AUC entre grupos de {name}: {gap['auc_gap']:.3f}")
        if (gap.get("approval_gap") or 0) > LIMITS["fairness_approval_gap_max"]:
            out.append(f"Brecha de aprobación entre grupos de {name}: {gap['approval_gap']:.1%}")
    if not m.get("bands_monotone", True):
        out.append("La tasa de incumplimiento no es monótona entre bandas de puntaje")
    if m.get("test_kind") != "out_of_time":
        out.append("Sin prueba fuera de tiempo: la validación es un holdout aleatorio agrupado")
    out.append("Entrenado con los datos y la política de su período; fuera de ese rango de fechas, sectores o tamaños "
               "de empresa sus PD no están validadas")  # fmt: skip
    return out


def write_pack(record: dict[str, Any], card: str, out: Path) -> list[Path]:
    """``inventory.json`` and ``model_risk_pack.html`` under ``out``."""
    text = json.dumps(record, indent=1, ensure_ascii=False, default=str)
    page = _page(record, card)
    return [
        write_atomic(out / "inventory.json", lambda p: p.write_text(text, encoding="utf-8")),
        write_atomic(out / "model_risk_pack.html", lambda p: p.write_text(page, encoding="utf-8")),
    ]


def approval_tags(role: str, by: str, note: str, current: dict[str, str]) -> dict[str, str]:
    """The tags that record ``by``'s approval in ``role``; the two roles must be different people."""
    if role not in ROLES:
        raise InputError(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
    if not by.strip():
        raise InputError("--by: expected the approver's name, got an empty text")
    other = "validator" if role == "owner" else "owner"
    if current.get(f"approval.{other}.by", "").strip().lower() == by.strip().lower():
        raise InputError(f"--by: expected someone other than the {other} ({by}); one person cannot approve as both")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return {f"approval.{role}.by": by.strip(), f"approval.{role}.at": now, f"approval.{role}.note": note.strip()}


def _rows(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _rows(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list) and value and isinstance(value[0], dict | list):
        return [row for i, v in enumerate(value) for row in _rows(v, f"{prefix}[{i}]")]
    shown = ", ".join(map(str, value)) if isinstance(value, list) else "—" if value is None else str(value)
    return [(prefix, shown)]


def _page(record: dict[str, Any], card: str) -> str:
    from markdown_it import MarkdownIt

    rows = "".join(f"<tr><th scope='row'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in _rows({k: v for k, v in record.items() if k != "missing"}))  # fmt: skip
    missing = "".join(f"<li>{html.escape(m)}</li>" for m in record["missing"])
    warning = (
        f"<p role='alert'><strong>Falta registrar / not recorded:</strong></p><ul>{missing}</ul>" if missing else ""
    )
    limits = "".join(f"<li>{html.escape(x)}</li>" for x in record["limitations"])
    return f"""<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>Paquete de riesgo de modelo {html.escape(record["id"])}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#1d1d1d}}
table{{border-collapse:collapse}}th,td{{border:1px solid #bbb;padding:3px 8px;text-align:left;vertical-align:top}}
th{{background:#f3f3f3;font-weight:normal}}</style></head><body>
<h1>Paquete de riesgo de modelo / model-risk pack</h1>
<p>Modelo {html.escape(record["id"])}, versión {html.escape(record["version"])}; nivel (tier)
{record["tier"]["level"]}: {html.escape(record["tier"]["rationale"])}.</p>
{warning}
<h2>Limitaciones / limitations</h2><ul>{limits}</ul>
<h2>Registro de inventario / inventory record</h2><table>{rows}</table>
<h2>Ficha del modelo / model card</h2>
{MarkdownIt().render(card)}
</body></html>
"""
