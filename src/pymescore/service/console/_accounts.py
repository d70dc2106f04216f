"""Users, sessions and the login trail of the workbench, in the audit store.

Passwords are argon2id hashes (argon2-cffi's defaults); a generated password is shown once. Sessions are
random tokens of which only the SHA-256 is stored, each with its own CSRF token. Five failed logins in a
row lock an account for 15 minutes. Logins, failures, lock-outs and logouts go to ``console_events``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pymescore.errors import PymescoreError
from pymescore.service._store import AuditStore, aware
from pymescore.service.console._tables import events, sessions, users

ROLES = ("officer", "approver", "reviewer", "admin")
MAX_FAILURES = 5
LOCK_FOR = dt.timedelta(minutes=15)
SESSION_FOR = dt.timedelta(hours=10)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("a password nobody has")  # unknown users cost the same time as known ones


class UserError(PymescoreError):
    """A user command that cannot be done (unknown user, name taken, bad role)."""

    code = "USER_INVALID"


@dataclasses.dataclass(frozen=True)
class User:
    id: str
    tenant: str
    username: str
    role: str
    limit_pen: float | None
    csrf: str = ""  # the session's CSRF token, when read from a session


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)


class Accounts:
    """The workbench's users and sessions over an :class:`AuditStore`'s engine (short transactions)."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store

    # -- users (the CLI) -------------------------------------------------------------------------
    def create_user(self, tenant: str, username: str, role: str, limit_pen: float | None = None) -> tuple[str, User]:
        """A new user and their generated password (shown once; only its argon2 hash is kept)."""
        if role not in ROLES:
            raise UserError(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
        if not _NAME.match(username):
            raise UserError(f"--username: expected 2-64 lowercase letters, digits, '.', '_' or '-', got {username!r}")
        if not tenant or len(tenant) > 64:
            raise UserError(f"--tenant: expected 1-64 characters, got {tenant!r}")
        if limit_pen is not None and not (0 <= limit_pen <= 1e10):
            raise UserError(f"--limit: expected an amount in PEN between 0 and 10^10, got {limit_pen}")
        password = new_password()
        row = {"id": secrets.token_hex(8), "tenant": tenant, "username": username, "role": role,
               "limit_pen": limit_pen, "password_hash": _HASHER.hash(password), "failed_logins": 0,
               "created_at": _now()}  # fmt: skip
        try:
            with self.store._tx() as conn:
                conn.execute(users.insert().values(**row))
                self._event(conn, tenant, username, "user_created", {"role": role, "limit_pen": limit_pen})
        except sa.exc.IntegrityError as exc:
            raise UserError(f"--username: expected a name not yet taken (in any tenant), got {username!r}") from exc
        return password, User(str(row["id"]), tenant, username, role, limit_pen)

    def list_users(self, tenant: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(users).order_by(users.c.tenant, users.c.username)
        if tenant:
            q = q.where(users.c.tenant == tenant)
        with self.store._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            {"username": r["username"], "tenant": r["tenant"], "role": r["role"], "limit_pen": r["limit_pen"],
             "created_at": str(r["created_at"]), "disabled": r["disabled_at"] is not None,
             "locked_until": None if r["locked_until"] is None else str(r["locked_until"])}
            for r in rows
        ]  # fmt: skip

    def _user_row(self, conn: sa.Connection, username: str) -> Any:
        row = conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            raise UserError(f"username: expected an existing user (see `pymescore user list`), got {username!r}")
        return row

    def disable_user(self, username: str) -> dict[str, Any]:
        """Disable a user: they cannot log in, and their open sessions end."""
        with self.store._tx() as conn:
            row = self._user_row(conn, username)
            now = _now()
            if row["disabled_at"] is None:
                conn.execute(users.update().where(users.c.id == row["id"]).values(disabled_at=now))
            conn.execute(
                sessions.update().where((sessions.c.user_id == row["id"]) & sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            )  # fmt: skip
            self._event(conn, row["tenant"], username, "user_disabled", {})
        return {"username": username, "tenant": row["tenant"], "disabled": True}

    def reset_password(self, username: str) -> tuple[str, User]:
        """A new generated password (shown once); the lock-out is lifted and open sessions end."""
        password = new_password()
        with self.store._tx() as conn:
            row = self._user_row(conn, username)
            conn.execute(
                users.update().where(users.c.id == row["id"])
                .values(password_hash=_HASHER.hash(password), failed_logins=0, locked_until=None)
            )  # fmt: skip
            conn.execute(
                sessions.update().where((sessions.c.user_id == row["id"]) & sessions.c.ended_at.is_(None))
                .values(ended_at=_now())
            )  # fmt: skip
            self._event(conn, row["tenant"], username, "password_reset", {})
        return password, User(row["id"], row["tenant"], username, row["role"], row["limit_pen"])

    # -- logins and sessions (the web) -----------------------------------------------------------
    def login(self, username: str, password: str, client: str = "") -> tuple[str, User] | None:
        """A new session token for the right password of an enabled, unlocked user; else None (recorded)."""
        username = username.strip().lower()[:64]
        with self.store._tx() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            _verify(_DUMMY, password)
            return None
        now = _now()
        locked = aware(row["locked_until"])
        usable = row["disabled_at"] is None and (locked is None or locked <= now)
        right = _verify(row["password_hash"], password) and usable
        with self.store._tx() as conn:
            if not right:
                failures = int(row["failed_logins"]) + (1 if usable else 0)
                values: dict[str, Any] = {"failed_logins": failures}
                why = "disabled" if row["disabled_at"] is not None else "locked" if not usable else "password"
                if usable and failures >= MAX_FAILURES:
                    values = {"failed_logins": 0, "locked_until": now + LOCK_FOR}
                    self._event(conn, row["tenant"], username, "locked", {"minutes": LOCK_FOR.seconds // 60})
                conn.execute(users.update().where(users.c.id == row["id"]).values(**values))
                self._event(conn, row["tenant"], username, "login_failed", {"why": why, "client": client})
                return None
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
            conn.execute(users.update().where(users.c.id == row["id"]).values(failed_logins=0, locked_until=None))
            conn.execute(sessions.insert().values(id=_sha(token), user_id=row["id"], csrf=csrf, created_at=now,
                                                  expires_at=now + SESSION_FOR))  # fmt: skip
            self._event(conn, row["tenant"], username, "login", {"client": client})
        return token, User(row["id"], row["tenant"], username, row["role"], row["limit_pen"], csrf)

    def session(self, token: str) -> User | None:
        """The user of a live session (not ended, not expired, user not disabled); else None."""
        if not token or len(token) > 128:
            return None
        j = sessions.join(users, users.c.id == sessions.c.user_id)
        q = sa.select(sessions.c.csrf, sessions.c.expires_at, sessions.c.ended_at, users).select_from(j)
        with self.store._tx() as conn:
            row = conn.execute(q.where(sessions.c.id == _sha(token))).mappings().first()
        if row is None or row["ended_at"] is not None or row["disabled_at"] is not None:
            return None
        expires = aware(row["expires_at"])
        if expires is None or expires <= _now():
            return None
        return User(row["id"], row["tenant"], row["username"], row["role"], row["limit_pen"], row["csrf"])

    def logout(self, token: str, user: User) -> None:
        with self.store._tx() as conn:
            conn.execute(sessions.update().where(sessions.c.id == _sha(token)).values(ended_at=_now()))
            self._event(conn, user.tenant, user.username, "logout", {})

    def events(self, tenant: str, limit: int = 200) -> list[dict[str, Any]]:
        """The tenant's login trail, newest first."""
        with self.store._tx() as conn:
            rows = conn.execute(
                sa.select(events).where(events.c.tenant == tenant).order_by(events.c.id.desc()).limit(limit)
            ).mappings()
            return [dict(r) for r in rows]

    @staticmethod
    def _event(conn: sa.Connection, tenant: str, username: str, event: str, detail: dict[str, Any]) -> None:
        conn.execute(events.insert().values(tenant=tenant, username=username, event=event, at=_now(), detail=detail))


def _verify(hashed: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(hashed, password[:1024]))
    except (VerificationError, InvalidHashError):
        return False
