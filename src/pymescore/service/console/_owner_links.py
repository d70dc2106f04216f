"""The SME owner's links: an officer hands the owner a link that shows their score, reasons and improvement hints
once. The link carries a random token; the audit store keeps only its SHA-256 (``owner_links``, migration 0006),
so a copy of the database opens no link.

A link works once (opening it marks it used, atomically: two tabs racing get one page), and not after it expires.
Creating and opening a link are events of the tenant's trail (``console_events``), as logins are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pymescore.service._store import AuditStore, aware
from pymescore.service._tables import decisions
from pymescore.service.console._tables import events, owner_links

#: how long a link may be valid, in hours (the officer picks one; the first is the default)
VALIDITY_HOURS = (72, 24, 168)
#: what the events table names as the user who opened a link (the owner has no account)
OWNER = "(propietario)"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Opened:
    """What a link gives: ``state`` ``ready`` (valid, not yet opened), ``shown`` (opened now: ``response`` is the
    decision's), ``used``, ``expired`` or ``unknown``."""

    state: str
    response: dict[str, Any] | None = None
    expires_at: dt.datetime | None = None


class OwnerLinks:
    def __init__(self, store: AuditStore) -> None:
        self.store = store

    def create(self, tenant: str, decision_id: str, username: str, hours: int) -> tuple[str, dict[str, Any]]:
        """A new link for the tenant's decision: the token (shown once) and the stored row (its hash); the creation
        is recorded in the trail in the same transaction."""
        token = secrets.token_urlsafe(32)
        now = _now()
        expires = now + dt.timedelta(hours=hours)
        row: dict[str, Any] = {"id": token_hash(token), "tenant": tenant, "decision_id": decision_id,
                               "created_by": username, "created_at": now, "expires_at": expires,
                               "used_at": None}  # fmt: skip
        detail = {"decision_id": decision_id, "link": row["id"][:12], "expires_at": expires.isoformat()}
        with self.store._tx() as conn:
            conn.execute(owner_links.insert().values(**row))
            conn.execute(events.insert().values(tenant=tenant, username=username, event="owner_link_created",
                                                at=now, detail=detail))  # fmt: skip
        return token, row

    def peek(self, token: str) -> Opened:
        """The link's state without using it."""
        with self.store._tx() as conn:
            return self._state(conn, token)[0]

    def open(self, token: str) -> Opened:
        """Use the link: the decision's stored response the first time, within its validity; else why not."""
        with self.store._tx() as conn:
            found, row = self._state(conn, token)
            if found.state != "ready" or row is None:
                return found
            now = _now()
            taken = conn.execute(
                owner_links.update().where((owner_links.c.id == row["id"]) & owner_links.c.used_at.is_(None))
                .values(used_at=now)
            ).rowcount  # fmt: skip
            if taken != 1:  # another request opened it meanwhile
                return Opened("used", expires_at=found.expires_at)
            response = conn.execute(
                sa.select(decisions.c.response).where((decisions.c.id == row["decision_id"])
                                                      & (decisions.c.tenant == row["tenant"]))
            ).scalar_one_or_none()  # fmt: skip
            conn.execute(events.insert().values(tenant=row["tenant"], username=OWNER, event="owner_link_opened",
                                                at=now, detail={"decision_id": row["decision_id"],
                                                                "link": row["id"][:12]}))  # fmt: skip
        if response is None:
            return Opened("unknown")
        return Opened("shown", dict(response), found.expires_at)

    @staticmethod
    def _state(conn: sa.Connection, token: str) -> tuple[Opened, dict[str, Any] | None]:
        if not token or len(token) > 128:
            return Opened("unknown"), None
        row = conn.execute(sa.select(owner_links).where(owner_links.c.id == token_hash(token))).mappings().first()
        if row is None:
            return Opened("unknown"), None
        expires = aware(row["expires_at"])
        if row["used_at"] is not None:
            return Opened("used", expires_at=expires), dict(row)
        if expires <= _now():
            return Opened("expired", expires_at=expires), dict(row)
        return Opened("ready", expires_at=expires), dict(row)

    def for_decisions(self, tenant: str, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The tenant's links of these decisions (no token: none is kept), oldest first, by decision."""
        out: dict[str, list[dict[str, Any]]] = {}
        now = _now()
        with self.store._tx() as conn:
            for start in range(0, len(ids), 500):
                q = (
                    sa.select(owner_links.c.decision_id, owner_links.c.created_by, owner_links.c.created_at,
                              owner_links.c.expires_at, owner_links.c.used_at)
                    .where((owner_links.c.tenant == tenant) & owner_links.c.decision_id.in_(ids[start : start + 500]))
                    .order_by(owner_links.c.created_at)
                )  # fmt: skip
                for r in conn.execute(q).mappings():
                    link = dict(r)
                    link["expired"] = link["used_at"] is None and aware(link["expires_at"]) <= now
                    out.setdefault(link["decision_id"], []).append(link)
        return out
