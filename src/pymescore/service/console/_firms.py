"""A firm's history in the workbench: every application of one RUC in the tenant (API and console alike), the
model's decisions, the human actions beside them and the links handed to the owner. Another tenant's firm is
simply not found."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from pymescore.service._store import AuditStore
from pymescore.service._tables import decisions
from pymescore.service.console._cases import Cases, status_of
from pymescore.service.console._owner_links import OwnerLinks
from pymescore.service.console._tables import cases

RUC = re.compile(r"\d{11}")
#: the most applications a history page lists (newest first)
MAX_APPLICATIONS = 500


def history(store: AuditStore, tenant: str, ruc: str) -> dict[str, Any] | None:
    """The firm's applications, newest first (each with its state, trail and owner links), and one timeline of
    its human actions and links, newest first; None when the tenant has no application of this RUC."""
    if not RUC.fullmatch(ruc):
        return None
    cols = (decisions.c.id, decisions.c.created_at, decisions.c.ruc, decisions.c.score, decisions.c.band,
            decisions.c.decision, decisions.c.pd, decisions.c.model_version, decisions.c.response)  # fmt: skip
    q = (
        sa.select(*cols, cases.c.source, cases.c.created_by, cases.c.term_months)
        .select_from(decisions.outerjoin(cases, (cases.c.decision_id == decisions.c.id) & (cases.c.tenant == tenant)))
        .where((decisions.c.tenant == tenant) & (decisions.c.ruc == ruc))
        .order_by(decisions.c.created_at.desc())
        .limit(MAX_APPLICATIONS)
    )
    with store._tx() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
        trails = Cases._trails(conn, tenant, [r["id"] for r in rows])
    if not rows:
        return None
    links = OwnerLinks(store).for_decisions(tenant, [r["id"] for r in rows])
    timeline: list[dict[str, Any]] = []
    for r in rows:
        r["trail"] = trails.get(r["id"], [])
        r["status"] = status_of(r["decision"], r["trail"])
        r["links"] = links.get(r["id"], [])
        timeline += [{"kind": "action", "at": a["created_at"], "case": r, **a} for a in r["trail"]]
        timeline += [{"kind": "link", "at": x["created_at"], "case": r, **x} for x in r["links"]]
    timeline.sort(key=lambda x: str(x["at"]), reverse=True)
    return {"ruc": ruc, "rows": rows, "timeline": timeline}
