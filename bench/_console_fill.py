"""An audit store filled like a busy tenant's: decisions with the service's row shape (features, reasons, hints,
the response) spread over bands, outcomes, regions, sectors, sizes and 24 months; people's actions on a share of
them (decisions, committee confirmations, actions still waiting for the committee, requests for information); and
one case with uploaded histories (the result page's charts). Inserted in bulk through the store's own insert
(:meth:`AuditStore.record`) and SQL inserts on the console's tables."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import numpy as np

from pymescore.contracts._reference import ciiu_sections
from pymescore.evaluate import assign_bands
from pymescore.features import FEATURE_NAMES
from pymescore.service._store import AuditStore
from pymescore.service.console._tables import actions, cases

DEPARTMENTS = [f"{k:02d}" for k in range(1, 26)]
CHUNK = 1000


def _response(sid: str, at: dt.datetime, ruc: str, score: int, band: str, decision: str, pd_: float,
              amount: float) -> dict[str, Any]:  # fmt: skip
    reasons = [{"code": f"R{k}", "feature": FEATURE_NAMES[k], "text": f"Motivo {k}: el valor de la empresa",
                "impact_points": float(-12 + 5 * k), "value": 0.3 * k} for k in range(4)]  # fmt: skip
    hints = [{"code": f"H{k}", "text": f"Mejora {k}: reducir los atrasos", "points": 8.0 + k} for k in range(3)]
    return {
        "score_id": sid,
        "created_at": at.isoformat(),
        "ruc": ruc,
        "as_of": (at.date() - dt.timedelta(days=1)).isoformat(),
        "model_version": "bench-m1",
        "policy_version": "bench-p1",
        "pd": pd_,
        "score": score,
        "band": band,
        "decision": decision,
        "requested_amount": amount,
        "suggested_amount": round(amount * 0.7),
        "currency": "PEN",
        "reasons": reasons,
        "policy_rules": [],
        "improvement_hints": hints,
        "language": "es",
        "regulatory": {
            "credit_type": "pequena_empresa",
            "sbs_category": "normal",
            "guarantee": "none",
            "exposure": amount,
            "provision_rate": 0.01,
            "provision_amount": round(amount * 0.01, 2),
            "lgd": 0.45,
            "expected_loss": round(amount * pd_ * 0.45, 2),
            "regulation_version": "bench",
        },
    }


def decisions_for(tenant: str, n: int, seed: int = 7, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """``n`` decision rows as the API stores them; scores around 600, outcomes following the bands with some
    policy review and knock-outs, created over the 24 months before ``now``."""
    rng = np.random.default_rng(seed)
    now = now or dt.datetime.now(dt.UTC)
    scores = np.clip(rng.normal(600, 55, n), 350, 850).round().astype(int)
    bands = assign_bands(scores)
    sections = sorted(ciiu_sections())
    by_band = {"A": "approve", "B": "approve", "C": "review", "D": "decline", "E": "decline"}
    rows = []
    for k in range(n):
        sid = str(uuid.uuid4())
        at = now - dt.timedelta(minutes=float(rng.uniform(1, 24 * 30.4 * 24 * 60)))
        ruc = f"20{rng.integers(10**8, 10**9 - 1)}"
        band = str(bands[k])
        decision = by_band[band] if rng.random() > 0.1 else str(rng.choice(["review", "decline"]))
        pd_ = float(1 / (1 + np.exp((scores[k] - 560) / 30)))
        features = {name: round(float(rng.normal()), 4) for name in FEATURE_NAMES}
        features.update(
            department=str(rng.choice(DEPARTMENTS, p=_weights(len(DEPARTMENTS)))),
            ciiu_section=str(rng.choice(sections)),
            size_class=float(rng.choice(4, p=[0.55, 0.3, 0.12, 0.03])),
        )
        amount = float(rng.choice([5_000, 10_000, 20_000, 30_000, 50_000, 80_000]))
        response = _response(sid, at, ruc, int(scores[k]), band, decision, pd_, amount)
        rows.append({"id": sid, "tenant": tenant, "created_at": at, "ruc": ruc, "request_fingerprint": "f" * 64,
                     "idempotency_key": None, "features": features, "model_version": "bench-m1",
                     "policy_version": "bench-p1", "pd": pd_, "score": int(scores[k]), "band": band,
                     "decision": decision, "reasons": response["reasons"], "policy_rules": [],
                     "response": response, "latency_ms": 4.0})  # fmt: skip
    return rows


def _weights(n: int) -> np.ndarray:
    w = 1 / np.arange(1, n + 1)  # a capital region and a long tail, as in Peru
    return np.asarray(w / w.sum())


def actions_for(tenant: str, rows: list[dict[str, Any]], seed: int = 7) -> list[dict[str, Any]]:
    """People's actions: most cases in review decided (some above the officer's limit and confirmed by the
    committee, some still waiting for it, some asked for information), a few overrides of the model."""
    rng = np.random.default_rng(seed + 1)
    out: list[dict[str, Any]] = []

    def add(row: dict[str, Any], action: str, who: str, role: str, needs: str = "", target: str | None = None,
            reason: str = "A01") -> dict[str, Any]:  # fmt: skip
        a = {"id": str(uuid.uuid4()), "tenant": tenant, "decision_id": row["id"],
             "created_at": row["created_at"] + dt.timedelta(hours=float(rng.uniform(1, 72)) + len(out) * 1e-6),
             "username": who, "role": role, "action": action, "amount": row["response"]["suggested_amount"],
             "term_months": 24, "currency": "PEN", "reason_code": reason, "note": "visita al negocio" if needs else "",
             "model_decision": row["decision"], "model_amount": row["response"]["suggested_amount"],
             "needs_approver": needs, "target_id": target}  # fmt: skip
        out.append(a)
        return a

    for row in rows:
        u = rng.random()
        if row["decision"] == "review":
            if u < 0.45:
                add(row, "approve" if rng.random() < 0.6 else "decline", "oficial", "officer", reason="A03")
            elif u < 0.6:
                first = add(row, "approve", "oficial", "officer", needs="limit")
                add(row, "confirm", "comite", "approver", target=first["id"], reason="C01")
            elif u < 0.7:
                add(row, "approve", "oficial", "officer", needs="limit")  # waits for the committee
            elif u < 0.75:
                add(row, "info", "oficial", "officer", reason="I01")
        elif u < 0.03:  # an override of the model, confirmed
            action = "approve" if row["decision"] == "decline" else "decline"
            reason = "A02" if action == "approve" else "D01"
            first = add(row, action, "oficial", "officer", needs="override", reason=reason)
            add(row, "confirm", "comite", "approver", target=first["id"], reason="C01")
    return out


def upload_for(row: dict[str, Any]) -> dict[str, Any]:
    """A console case's uploaded histories: 24 months of cash flows, payments and ratings, two statements."""
    as_of = dt.date.fromisoformat(row["response"]["as_of"])
    months = [(as_of.replace(day=1) - dt.timedelta(days=31 * k)).replace(day=1) for k in range(24, 0, -1)]
    flows = [{"month": m.isoformat(), "income": 40_000.0 + 900 * k, "expenses": 31_000.0 + 700 * k, "currency": "PEN"}
             for k, m in enumerate(months)]  # fmt: skip
    pays = [{"loan_id": f"L{k % 2}", "due_date": m.replace(day=15).isoformat(),
             "paid_date": (m.replace(day=15) + dt.timedelta(days=k % 5 * 3)).isoformat(), "amount": 1_500.0}
            for k, m in enumerate(months)]  # fmt: skip
    ratings = [{"month": m.isoformat(), "rating": "normal", "debt_pen": 20_000.0} for m in months]
    statements = [{"period_end": f"{as_of.year - y}-12-31", "assets": 300_000.0, "liabilities": 120_000.0,
                   "equity": 180_000.0, "revenue": 480_000.0} for y in (1, 2)]  # fmt: skip
    return {"decision_id": row["id"], "tenant": row["tenant"], "created_by": "oficial", "created_at": row["created_at"],
            "source": "workbook", "term_months": 24,
            "histories": {"firms": [{"ruc": row["ruc"]}], "monthly_cashflows": flows, "payments": pays,
                          "bureau_ratings": ratings, "financial_statements": statements}}  # fmt: skip


def fill(store: AuditStore, tenant: str, n: int, seed: int = 7) -> dict[str, Any]:
    """Fill ``store`` with ``n`` decisions of ``tenant`` and their people's actions; returns what a page timing
    needs (a case with an upload) and the counts."""
    rows = decisions_for(tenant, n, seed)
    for start in range(0, n, CHUNK):
        store.record(rows[start : start + CHUNK], None)
    acts = actions_for(tenant, rows, seed)
    case = next(r for r in rows if r["decision"] == "review")
    with store._tx() as conn:
        for start in range(0, len(acts), CHUNK):
            conn.execute(actions.insert(), acts[start : start + CHUNK])
        conn.execute(cases.insert(), [upload_for(case)])
    if store.engine.dialect.name == "postgresql":  # the planner's statistics, as autovacuum gathers them after a load
        with store._tx() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {
        "case_id": case["id"],
        "decisions": n,
        "actions": len(acts),
        "outcomes": {d: sum(r["decision"] == d for r in rows) for d in ("approve", "review", "decline")},
    }
