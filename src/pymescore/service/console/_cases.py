"""Cases of the workbench in the audit store: the model's decisions (read, never changed), the uploaded
histories beside them, and the human actions appended next to them.

Every read names the tenant: another tenant's case is simply not found.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pymescore.errors import PymescoreError
from pymescore.service._deadline import WriteGate
from pymescore.service._store import AuditStore
from pymescore.service._tables import decisions
from pymescore.service.console._tables import actions, cases, decision_slices

#: actions a person decides with; ``confirm`` / ``reject`` answer a pending one
DECIDING = ("approve", "decline")


class ActionTakenError(PymescoreError):
    """The pending action was answered meanwhile (the unique constraint on ``target_id``)."""

    code = "ACTION_ALREADY_ANSWERED"


@dataclass
class Status:
    """Where a case stands after its human actions (derived, never stored)."""

    state: str  # model | pending_review | info | pending_approver | approved | declined
    final: dict[str, Any] | None = None  # the effective human decision
    pending: dict[str, Any] | None = None  # the action waiting for an approver
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # action id -> its confirm / reject


def status_of(model_decision: str, trail: list[dict[str, Any]]) -> Status:
    """The case's state from the model's decision and its actions in time order."""
    answers = {a["target_id"]: a for a in trail if a["action"] in ("confirm", "reject") and a["target_id"]}
    status = Status("pending_review" if model_decision == "review" else "model", answers=answers)
    for a in trail:
        if a["action"] == "info":
            status.state, status.pending = "info", None
        elif a["action"] in DECIDING:
            answer = answers.get(a["id"])
            if a["needs_approver"] and answer is None:
                status.state, status.pending = "pending_approver", a
            elif not a["needs_approver"] or (answer is not None and answer["action"] == "confirm"):
                status.state = "approved" if a["action"] == "approve" else "declined"
                status.final, status.pending = a, None
            # else: rejected by the committee, the case stays where it was before this action
    return status


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Cases:
    def __init__(self, store: AuditStore) -> None:
        self.store = store

    def store_scored(self, row: dict[str, Any], case: dict[str, Any], gate: WriteGate | None = None) -> None:
        """The model's decision and the uploaded histories, in one transaction (audited before shown), committed
        only before ``gate``'s deadline (the same write rule as the API's decisions)."""
        with self.store._write(gate) as conn:
            conn.execute(decisions.insert().values(**row))
            conn.execute(cases.insert().values(**case))

    def recent(self, tenant: str, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's latest decisions (API and console alike), newest first, with their case state."""
        q = (
            sa.select(decisions.c.id, decisions.c.created_at, decisions.c.ruc, decisions.c.score, decisions.c.band,
                      decisions.c.decision, decisions.c.response)
            .where(decisions.c.tenant == tenant)
            .order_by(decisions.c.created_at.desc())
            .limit(limit)
        )  # fmt: skip
        with self.store._tx() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
            trails = self._trails(conn, tenant, [r["id"] for r in rows])
        for r in rows:
            r["status"] = status_of(r["decision"], trails.get(r["id"], [])).state
        return rows

    def case(self, tenant: str, decision_id: str) -> dict[str, Any] | None:
        """One case of the tenant: the decision row, the uploaded histories (if any) and the actions."""
        with self.store._tx() as conn:
            row = conn.execute(
                sa.select(decisions).where((decisions.c.id == decision_id) & (decisions.c.tenant == tenant))
            ).mappings().first()  # fmt: skip
            if row is None:
                return None
            upload = conn.execute(
                sa.select(cases).where((cases.c.decision_id == decision_id) & (cases.c.tenant == tenant))
            ).mappings().first()  # fmt: skip
            trail = self._trails(conn, tenant, [decision_id]).get(decision_id, [])
        out = dict(row)
        out["upload"] = None if upload is None else dict(upload)
        out["trail"] = trail
        out["status"] = status_of(row["decision"], trail)
        return out

    def append_action(self, row: dict[str, Any], gate: WriteGate | None = None) -> dict[str, Any]:
        """Append one human action; an answer to an already answered action raises :class:`ActionTakenError`."""
        row = {"id": str(uuid.uuid4()), "created_at": _now(), **row}
        try:
            with self.store._write(gate) as conn:
                conn.execute(actions.insert().values(**row))
        except sa.exc.IntegrityError as exc:
            raise ActionTakenError("already answered") from exc
        return row

    def in_review(self, tenant: str, band: str | None = None) -> list[dict[str, Any]]:
        """Decisions in review with no final human decision, and every case with an action waiting for an
        approver, oldest first: id, time, RUC, score, band, decision, requested amount and currency, region and
        sector, the ``trail`` and its ``status``."""
        a, d = actions.c, decision_slices.c  # the columns of migration 0007, not the features' and response's JSON
        waiting = sa.select(a.decision_id).where(
            (a.tenant == tenant) & (a.needs_approver != "") & a.action.in_(DECIDING)
        )
        # a case whose last action is final (a decision nobody has to confirm, or a confirmation) is closed: the
        # routes take no action on a case waiting for an approver, so this is status_of's verdict, in SQL
        last = actions.alias("last_action")
        final = (last.c.action.in_(DECIDING) & (last.c.needs_approver == "")) | (last.c.action == "confirm")
        latest = (
            sa.select(a.id)
            .where((a.tenant == tenant) & (a.decision_id == d.id))
            .order_by(a.created_at.desc(), a.id.desc())
            .limit(1)
            .correlate(decision_slices)  # the case of the outer query, two levels up
            .scalar_subquery()
        )
        closed = sa.exists(sa.select(last.c.id).where((last.c.id == latest) & final))
        queued = (d.tenant == tenant) & ((d.decision == "review") | d.id.in_(waiting)) & ~closed
        if band:
            queued &= d.band == band
        cols = (d.id, d.created_at, d.ruc, d.score, d.band, d.decision, d.requested_amount, d.currency, d.region,
                d.sector)  # fmt: skip
        with self.store._tx() as conn:  # two queries, whatever the queue's length
            rows = [dict(r) for r in conn.execute(sa.select(*cols).where(queued).order_by(d.created_at)).mappings()]
            q = sa.select(actions).where((a.tenant == tenant) & a.decision_id.in_(sa.select(d.id).where(queued)))
            result = conn.execute(q.order_by(a.created_at, a.id))
            keys = list(result.keys())
            trails: dict[str, list[dict[str, Any]]] = {}
            for values in result:  # tuples, zipped with the keys once known: a mapping per row costs more
                act = dict(zip(keys, values, strict=True))
                trails.setdefault(act["decision_id"], []).append(act)
        out = []
        for r in rows:
            r["trail"] = trails.get(r["id"], [])
            r["status"] = status_of(r["decision"], r["trail"])
            if r["status"].state in ("pending_review", "info", "pending_approver"):
                out.append(r)
        return out

    @staticmethod
    def _trails(conn: sa.Connection, tenant: str, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), 500):
            q = (
                sa.select(actions)
                .where((actions.c.tenant == tenant) & actions.c.decision_id.in_(ids[start : start + 500]))
                .order_by(actions.c.created_at, actions.c.id)
            )
            for a in conn.execute(q).mappings():
                out.setdefault(a["decision_id"], []).append(dict(a))
        return out
