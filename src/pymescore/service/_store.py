"""The audit store: decisions, API keys and idempotency keys in SQLite (embedded default) or PostgreSQL.

Every method is a short transaction. A failure to reach the database is raised as
:class:`StoreUnavailableError` (the service answers 503); nothing is acknowledged that was not committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pymescore.errors import PymescoreError
from pymescore.service._deadline import WriteGate
from pymescore.service._engine import StoreMissingError, _missing, make_engine
from pymescore.service._regulator import check_key
from pymescore.service._tables import api_keys, decisions, idempotency_keys

SCOPES = ("score", "read", "admin", "regulator")
#: an in-flight claim older than this belongs to a request that died: a retry may take it over
STALE_CLAIM = dt.timedelta(seconds=60)
#: the write's deadline (checked at COMMIT by migration 0003's trigger) and statement timeout, transaction-local
_SET_DEADLINE = sa.text("SELECT set_config('pymescore.deadline', :d, true), set_config('statement_timeout', :ms, true)")
_MIGRATIONS = Path(__file__).with_name("migrations")


class StoreUnavailableError(PymescoreError):
    code = "AUDIT_UNAVAILABLE"


class IdempotencyConflictError(PymescoreError):
    """Same key, request still in flight (409) or a different body (422)."""

    code = "IDEMPOTENCY_CONFLICT"


@dataclass(frozen=True)
class Principal:
    key_id: str
    tenant: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Replay:
    status_code: int
    response: dict[str, Any]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@overload
def aware(value: dt.datetime) -> dt.datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware one: SQLite gives it back naive (UTC), PostgreSQL aware."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class AuditStore:
    """Short transactions over the audit tables; ``StoreUnavailableError`` when the database cannot be reached."""

    def __init__(self, url: str, *, schema: str | None = None, timeout_s: float = 2.0, read_only: bool = False) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.engine = make_engine(url, schema, timeout_s, read_only=read_only)

    @classmethod
    def open_existing(cls, url: str, *, schema: str | None = None, timeout_s: float = 2.0) -> AuditStore:
        """A read-only store for a reading command: refused (:class:`StoreMissingError`) when the database or its
        decisions table does not exist, instead of creating an empty store and reporting on nothing."""
        store = cls(url, schema=schema, timeout_s=timeout_s, read_only=True)
        try:
            with store._tx() as conn:
                present = sa.inspect(conn).has_table(decisions.name)
        except BaseException:
            store.dispose()
            raise
        if not present:
            store.dispose()
            raise StoreMissingError(_missing(url, "expected a migrated store with a decisions table, got none"))
        return store

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
            cause = type(getattr(exc, "orig", None) or exc).__name__
            raise StoreUnavailableError(f"audit store: expected a reachable database, got {cause}") from exc
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreUnavailableError("audit store: the connection was lost") from exc
            raise

    @contextmanager
    def _write(self, gate: WriteGate | None) -> Iterator[Connection]:
        """A transaction that commits only before ``gate``'s deadline: the database is told the deadline (a
        PostgreSQL trigger checks it at COMMIT, migration 0003), and the gate is shut before COMMIT is sent."""
        if gate is not None and gate.remaining() <= 0:  # e.g. a pool wait already spent the budget
            gate.abandon()
            raise StoreUnavailableError("audit store: the write's deadline passed before it began")
        with self._tx() as conn:
            if gate is not None:
                ms = max(1, int(gate.remaining() * 1000))
                if conn.dialect.name == "postgresql":
                    stamp = dt.datetime.fromtimestamp(gate.deadline, dt.UTC).isoformat()
                    conn.execute(_SET_DEADLINE, {"d": stamp, "ms": str(ms)})
                elif conn.dialect.name == "sqlite":
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={ms}")
            try:
                yield conn
                if gate is not None and not gate.begin_commit():
                    raise StoreUnavailableError("audit store: the write missed its deadline; rolled back")
            finally:
                if gate is not None and conn.dialect.name == "sqlite":  # the pooled connection's usual wait
                    with suppress(sa.exc.DBAPIError):
                        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")

    # -- schema ----------------------------------------------------------------------------------
    def migrate(self) -> str:
        """Bring the schema to the latest Alembic revision; returns it."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self._tx() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            rev = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        return str(rev)

    def ping(self) -> None:
        with self._tx() as conn:
            conn.execute(sa.text("SELECT 1"))

    # -- API keys --------------------------------------------------------------------------------
    def create_key(self, tenant: str, scopes: Sequence[str], label: str = "") -> tuple[str, dict[str, Any]]:
        """A new key (shown once) and its stored record; only the key's SHA-256 is kept."""
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise PymescoreError(
                f"--scopes: expected a comma-separated subset of {', '.join(SCOPES)}, got {','.join(scopes) or 'none'}",
                code="APIKEY_INVALID",
            )
        if not tenant or len(tenant) > 64:
            raise PymescoreError(f"--tenant: expected 1-64 characters, got {tenant!r}", code="APIKEY_INVALID")
        check_key(tenant, scopes)  # a regulator reads aggregates only
        key_id = secrets.token_hex(4)
        key = f"pms_{key_id}_{secrets.token_urlsafe(32)}"
        row = {
            "id": key_id,
            "tenant": tenant,
            "scopes": ",".join(dict.fromkeys(scopes)),
            "key_hash": hash_key(key),
            "label": label,
            "created_at": _now(),
            "revoked_at": None,
        }
        with self._tx() as conn:
            conn.execute(api_keys.insert().values(**row))
        return key, _key_view(row)

    def list_keys(self) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).mappings().all()
        return [_key_view(dict(r)) for r in rows]

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        with self._tx() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
            if row is None:
                raise PymescoreError(
                    f"apikey revoke: expected the id of a key (see `pymescore apikey list`), got {key_id!r}",
                    code="APIKEY_UNKNOWN",
                )
            if row["revoked_at"] is None:
                conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=_now()))
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().one()
        return _key_view(dict(row))

    def authenticate(self, key: str) -> Principal | None:
        """The key's principal; None for an unknown or revoked key."""
        with self._tx() as conn:
            row = conn.execute(
                sa.select(api_keys.c.id, api_keys.c.tenant, api_keys.c.scopes, api_keys.c.revoked_at).where(
                    api_keys.c.key_hash == hash_key(key)
                )
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        return Principal(row.id, row.tenant, frozenset(row.scopes.split(",")))

    # -- idempotency -----------------------------------------------------------------------------
    def claim(self, tenant: str, key: str, fingerprint: str) -> Replay | str:
        """Claim ``key`` for a new request (the claim's owner token), or the stored answer of a finished one.

        Raises :class:`IdempotencyConflictError` with ``fields['status']`` 409 (still in flight) or 422
        (the key was used with a different body). A claim older than :data:`STALE_CLAIM` belongs to a
        request that died; a retry takes it over, and the dead request can then neither complete nor
        release it (its token no longer matches).
        """
        token = secrets.token_hex(16)
        try:
            with self._tx() as conn:
                conn.execute(
                    idempotency_keys.insert().values(
                        tenant=tenant, key=key, fingerprint=fingerprint, state="in_flight", owner=token,
                        created_at=_now(),
                    )
                )  # fmt: skip
            return token
        except sa.exc.IntegrityError:
            pass
        with self._tx() as conn:
            row = (
                conn.execute(
                    sa.select(idempotency_keys).where(
                        (idempotency_keys.c.tenant == tenant) & (idempotency_keys.c.key == key)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:  # released between our insert and read: the caller may retry
            raise IdempotencyConflictError("Idempotency-Key: a request with this key just finished; retry", status=409)
        if row["fingerprint"] != fingerprint:
            raise IdempotencyConflictError(
                "Idempotency-Key: expected the same request body as the first use of this key, got a different one",
                status=422,
            )
        if row["state"] != "done":
            created = aware(row["created_at"])
            if _now() - created > STALE_CLAIM and self._take_over(tenant, key, row["owner"], token):
                return token
            raise IdempotencyConflictError(
                "Idempotency-Key: the first request with this key is still being processed; retry later", status=409
            )
        return Replay(int(row["status_code"]), dict(row["response"]))

    def _take_over(self, tenant: str, key: str, old: str, token: str) -> bool:
        """Compare-and-set on a stale claim: only one of several retries wins it."""
        with self._tx() as conn:
            result = conn.execute(
                idempotency_keys.update().where(self._claimed(tenant, key, old)).values(owner=token, created_at=_now())
            )
        return bool(result.rowcount == 1)

    @staticmethod
    def _claimed(tenant: str, key: str, token: str) -> Any:
        c = idempotency_keys.c
        return (c.tenant == tenant) & (c.key == key) & (c.state == "in_flight") & (c.owner == token)

    def release(self, tenant: str, key: str, token: str) -> None:
        """Forget our claim when its request failed (nothing was stored), so that a retry runs again."""
        with self._tx() as conn:
            conn.execute(idempotency_keys.delete().where(self._claimed(tenant, key, token)))

    def purge_idempotency(self, older_than: dt.timedelta) -> int:
        with self._tx() as conn:
            result = conn.execute(idempotency_keys.delete().where(idempotency_keys.c.created_at < _now() - older_than))
        return int(result.rowcount or 0)

    # -- decisions -------------------------------------------------------------------------------
    def record(
        self,
        rows: Sequence[dict[str, Any]],
        idempotency: tuple[str, str, str, int, dict[str, Any]] | None,
        gate: WriteGate | None = None,
    ) -> None:
        """Insert decisions and, in the same transaction, complete the idempotency claim we hold.

        If the claim was taken over meanwhile (this request was presumed dead), nothing is stored and
        :class:`IdempotencyConflictError` (409) is raised: the retry that took it over answers instead.
        With a ``gate``, nothing is committed after its deadline or once the service stopped waiting.
        """
        with self._write(gate) as conn:
            if rows:
                conn.execute(decisions.insert(), list(rows))
            if idempotency is not None:
                tenant, key, token, status, response = idempotency
                done = conn.execute(
                    idempotency_keys.update()
                    .where(self._claimed(tenant, key, token))
                    .values(state="done", status_code=status, response=response)
                )
                if done.rowcount != 1:
                    raise IdempotencyConflictError(
                        "Idempotency-Key: a retry took this request over; its answer is the one kept", status=409
                    )

    def get(self, tenant: str, decision_id: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            row = conn.execute(
                sa.select(decisions.c.response).where((decisions.c.id == decision_id) & (decisions.c.tenant == tenant))
            ).first()
        return None if row is None else dict(row.response)

    def history(self, tenant: str, ruc: str, limit: int = 100) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(decisions.c.response)
                .where((decisions.c.tenant == tenant) & (decisions.c.ruc == ruc))
                .order_by(decisions.c.created_at.desc())
                .limit(limit)
            ).all()
        return [dict(r.response) for r in rows]

    def count(self, **where: Any) -> int:
        with self._tx() as conn:
            q = sa.select(sa.func.count()).select_from(decisions)
            for col, value in where.items():
                q = q.where(decisions.c[col] == value)
            return int(conn.execute(q).scalar_one())

    def ids(self) -> set[str]:
        with self._tx() as conn:
            return {r[0] for r in conn.execute(sa.select(decisions.c.id))}

    def recent(self, since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Decisions (all tenants) since ``since``: for monitoring."""
        with self._tx() as conn:
            q = sa.select(decisions).order_by(decisions.c.created_at)
            if since is not None:
                q = q.where(decisions.c.created_at >= since)
            return [dict(r) for r in conn.execute(q).mappings()]


def _key_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "tenant": row["tenant"],
        "scopes": row["scopes"].split(","),
        "label": row.get("label", ""),
        "created_at": str(row["created_at"]),
        "revoked_at": None if row["revoked_at"] is None else str(row["revoked_at"]),
    }
