"""The audit trail in bulk, for a regulator or a model-risk reviewer: every decision of a period (a tenant's or
all), one row each, read-only, in pages, into one CSV or Parquet file written whole or not at all.

A row is what the decision said and on what: its id, tenant, time, RUC, model and policy versions, PD, score,
band, decision, suggested amount, the reason codes and the policy rules' codes (``;``-joined), the automated-
decision notice's data sources, latency, and the human actions of the workbench on it (count, the last one's
action and user). The whole response and the features stay in the store (JSON), one ``score_id`` away.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pymescore.errors import InputError
from pymescore.service._store import AuditStore, aware
from pymescore.service._tables import decisions
from pymescore.service.console._tables import actions as human_actions

#: the columns of an export, in order
COLUMNS = ("score_id", "tenant", "created_at", "ruc", "model_version", "policy_version", "pd", "score", "band",
           "decision", "requested_amount", "suggested_amount", "currency", "reason_codes", "policy_rules",
           "data_used", "latency_ms", "human_actions", "last_human_action", "last_human_user")  # fmt: skip
PAGE = 5_000
FORMATS = ("csv", "parquet")


def export_decisions(
    store: AuditStore,
    out: Path,
    *,
    tenant: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> dict[str, Any]:
    """Write the decisions from ``since`` to ``until`` (both included, UTC dates) to ``out`` (.csv or .parquet)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from pymescore.files import write_atomic

    kind = out.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise InputError(f"--out: expected a file ending in .csv or .parquet, got {out.name!r}")
    if since is not None and until is not None and until < since:
        raise InputError(f"--until: expected a date on or after --since ({since}), got {until}")
    typed = {"created_at": pa.timestamp("us", tz="UTC"), "pd": pa.float64(), "score": pa.int64(),
             "requested_amount": pa.float64(), "suggested_amount": pa.float64(), "latency_ms": pa.float64(),
             "human_actions": pa.int64()}  # fmt: skip
    schema = pa.schema([(c, typed.get(c, pa.string())) for c in COLUMNS])
    counted = {"rows": 0}

    def write(tmp: Path) -> None:
        writer: Any = pq.ParquetWriter(tmp, schema) if kind == "parquet" else pcsv.CSVWriter(tmp, schema)
        try:
            for page in _pages(store, tenant, since, until):
                writer.write_table(pa.Table.from_pylist(page, schema=schema))
                counted["rows"] += len(page)
        finally:
            writer.close()

    write_atomic(out, write)
    return {"out": str(out), "rows": counted["rows"], "tenant": tenant, "since": since and since.isoformat(),
            "until": until and until.isoformat(), "format": kind}  # fmt: skip


def _pages(
    store: AuditStore, tenant: str | None, since: dt.date | None, until: dt.date | None
) -> Iterator[list[dict[str, Any]]]:
    """The decisions in pages of ``PAGE``, oldest first (keyset on created_at, id: stable while others write)."""
    d = decisions.c
    where = []
    if tenant is not None:
        where.append(d.tenant == tenant)
    if since is not None:
        where.append(d.created_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
    if until is not None:
        where.append(d.created_at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC))
    with store._tx() as conn:  # a store migrated before the workbench has no human actions
        with_actions = sa.inspect(conn).has_table(human_actions.name)
    after: tuple[Any, str] | None = None
    while True:
        q = sa.select(d.id, d.tenant, d.created_at, d.ruc, d.model_version, d.policy_version, d.pd, d.score, d.band,
                      d.decision, d.latency_ms, d.response).where(*where)  # fmt: skip
        if after is not None:
            q = q.where(sa.or_(d.created_at > after[0], sa.and_(d.created_at == after[0], d.id > after[1])))
        q = q.order_by(d.created_at, d.id).limit(PAGE)
        with store._tx() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
            actions = _actions(conn, [r["id"] for r in rows]) if with_actions else {}
        if not rows:
            return
        yield [_row(r, actions.get(r["id"], [])) for r in rows]
        after = (rows[-1]["created_at"], rows[-1]["id"])


def _actions(conn: sa.Connection, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not ids:
        return {}
    a = human_actions.c
    out: dict[str, list[dict[str, Any]]] = {}
    q = sa.select(a.decision_id, a.action, a.username, a.created_at).where(a.decision_id.in_(ids))
    for r in conn.execute(q.order_by(a.created_at)).mappings():
        out.setdefault(r["decision_id"], []).append(dict(r))
    return out


def _row(r: dict[str, Any], actions: list[dict[str, Any]]) -> dict[str, Any]:
    response = r["response"] or {}
    created = aware(r["created_at"])
    notice = response.get("automated_decision_notice") or {}
    return {
        "score_id": r["id"], "tenant": r["tenant"], "created_at": created, "ruc": r["ruc"],
        "model_version": r["model_version"], "policy_version": r["policy_version"], "pd": r["pd"],
        "score": r["score"], "band": r["band"], "decision": r["decision"],
        "requested_amount": response.get("requested_amount"), "suggested_amount": response.get("suggested_amount"),
        "currency": response.get("currency"),
        "reason_codes": ";".join(x.get("code", "") for x in response.get("reasons") or []),
        "policy_rules": ";".join(x.get("code", "") for x in response.get("policy_rules") or []),
        "data_used": ";".join(map(str, notice.get("data_used") or [])), "latency_ms": r["latency_ms"],
        "human_actions": len(actions), "last_human_action": actions[-1]["action"] if actions else None,
        "last_human_user": actions[-1]["username"] if actions else None,
    }  # fmt: skip
