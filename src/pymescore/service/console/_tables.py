"""The workbench's tables, on the audit store's metadata (migration ``0003_console``).

Every table here is append-only for the console's routes but ``users`` (a password change, a lock-out, a
disable), ``sessions`` (a logout ends one) and ``owner_links`` (migration ``0006``: opening a link marks it
used). A human action never updates a decision nor another action: a confirmation is a new row that names the
action it confirms.
"""

from __future__ import annotations

import sqlalchemy as sa

from pymescore.service._tables import metadata

users = sa.Table(
    "console_users",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("username", sa.String(64), nullable=False, unique=True),  # one name across tenants: logins need no tenant
    sa.Column("role", sa.String(16), nullable=False),  # officer | approver | reviewer | admin
    sa.Column("limit_pen", sa.Float, nullable=True),  # delegation limit (PEN); None: no approving authority
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_console_users_tenant", "tenant"),
)

sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # SHA-256 of the cookie's token
    sa.Column("user_id", sa.String(16), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_console_sessions_expires", "expires_at"),
)

events = sa.Table(
    "console_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),  # login, login_failed, locked, logout, user_created, ...
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_console_events_tenant_at", "tenant", "at"),
)

cases = sa.Table(
    "console_cases",
    metadata,
    sa.Column("decision_id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # workbook | csv | lake
    sa.Column("term_months", sa.Integer, nullable=False),
    sa.Column("histories", sa.JSON, nullable=False),  # what was uploaded, as read (nothing lost)
    sa.Index("ix_console_cases_tenant_created", "tenant", "created_at"),
)

actions = sa.Table(
    "human_actions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("decision_id", sa.String(36), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # approve | decline | info | confirm | reject
    sa.Column("amount", sa.Float, nullable=True),
    sa.Column("term_months", sa.Integer, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("reason_code", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("model_decision", sa.String(16), nullable=False),
    sa.Column("model_amount", sa.Float, nullable=False),
    sa.Column("needs_approver", sa.String(16), nullable=False),  # "" | limit | override | limit+override
    sa.Column("target_id", sa.String(36), nullable=True, unique=True),  # the action a confirm / reject answers
    sa.Index("ix_human_actions_tenant_decision", "tenant", "decision_id", "created_at"),
    sa.Index("ix_human_actions_tenant_created", "tenant", "created_at"),
)

owner_links = sa.Table(
    "owner_links",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # SHA-256 of the link's token (the token itself is never kept)
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("decision_id", sa.String(36), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),  # set once, when the owner opens it
    sa.Index("ix_owner_links_tenant_decision", "tenant", "decision_id"),
)

#: the decisions with their slice columns (migration 0007: region, sector, size class, requested amount and
#: currency generated by the database from the features and the response; not in the API's table model, which
#: never writes them)
decision_slices = sa.table(
    "decisions",
    *(sa.column(c, sa.String) for c in ("id", "tenant", "ruc", "band", "decision", "region", "sector", "currency")),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("score", sa.Integer),
    sa.column("response", sa.JSON), sa.column("size_class", sa.Float), sa.column("requested_amount", sa.Float),
)  # fmt: skip
