"""The audit store's SQLAlchemy engine: SQLite (WAL, busy timeout; read-only for reading commands) or PostgreSQL
(statement and idle-in-transaction timeouts, TCP keepalives), each bounded by the store's timeout."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pymescore.errors import PymescoreError
from pymescore.sources._readers import _driver_url


class StoreMissingError(PymescoreError):
    """A reading command (``monitor``) named an audit store that does not exist or holds no decisions table:
    it is refused, never created."""

    code = "AUDIT_STORE_MISSING"


def _missing(url: str, why: str) -> str:
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    return (
        f"almacén de auditoría / audit store {shown}: {why}; un comando de lectura no lo crea / a reading command "
        "does not create it: give --database-url (or PYMESCORE_DATABASE_URL) of the service's store"
    )


def _sqlite_readonly(url: str, timeout_s: float) -> dict[str, Any]:
    """``create_engine`` arguments that open an existing SQLite file read-only; refused when it does not exist."""
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        why = "expected the path of an existing SQLite file, got an in-memory or URI database"
        raise StoreMissingError(_missing(url, why))
    path = Path(database)
    if not path.is_file():
        raise StoreMissingError(_missing(url, f"expected an existing file, got no file {database!r}"))
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return {"creator": lambda: sqlite3.connect(uri, timeout=timeout_s, uri=True, check_same_thread=False)}


def make_engine(url: str, schema: str | None = None, timeout_s: float = 2.0, *, read_only: bool = False) -> Engine:
    """An engine that fails fast: connection and statement timeouts, pre-ping, bounded pool waits.

    ``read_only``: an existing SQLite file opened read-only (refused with :class:`StoreMissingError` when
    missing, never created), or PostgreSQL sessions in read-only transactions."""
    url = _driver_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            **(_sqlite_readonly(url, timeout_s) if read_only else {}),
            connect_args={"check_same_thread": False, "timeout": timeout_s},
            poolclass=sa.pool.QueuePool,
            pool_size=16,
            max_overflow=16,
            pool_timeout=timeout_s,
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if not read_only:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
            cur.close()

        return engine
    # statement_timeout bounds a live but slow server; a transaction left open by a client that died is ended
    # by idle_in_transaction_session_timeout; a frozen server is bounded by the write's deadline (_deadline.py)
    options = f"-c statement_timeout={int(timeout_s * 1000)} -c idle_in_transaction_session_timeout=10000"
    if schema:
        options += f" -c search_path={schema}"
    if read_only:
        options += " -c default_transaction_read_only=on"
    # a silent network (no RST) is noticed by TCP keepalives and tcp_user_timeout, not after minutes
    ms = int(timeout_s * 1000)
    return sa.create_engine(
        url,
        connect_args={
            "connect_timeout": max(2, int(timeout_s)),
            "options": options,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 1,
            "keepalives_count": 2,
            "tcp_user_timeout": ms,
        },
        pool_pre_ping=True,
        pool_size=16,
        max_overflow=16,
        pool_timeout=timeout_s,
    )
