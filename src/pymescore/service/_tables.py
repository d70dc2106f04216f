"""The audit store's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

``decisions`` is append-only for the API: a row is inserted once, in the transaction that answers the
request, and never updated or deleted by the service.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ruc", sa.String(11), nullable=False),
    sa.Column("request_fingerprint", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("pd", sa.Float, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("band", sa.String(2), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("policy_rules", sa.JSON, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Index("ix_decisions_tenant_ruc_created", "tenant", "ruc", "created_at"),
    sa.Index("ix_decisions_created", "created_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(64), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # in_flight | done
    sa.Column("owner", sa.String(32), nullable=False, server_default=""),  # the request holding the claim
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("response", sa.JSON, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_idempotency_created", "created_at"),
)


def _request_table(name: str) -> sa.Table:
    """An applicant's request on a stored decision, with its legal deadline; answered once, never deleted."""
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("score_id", sa.String(36), nullable=False),
        sa.Column("requested_on", sa.Date, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("note", sa.String(1000), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Index(f"ix_{name}_tenant_score", "tenant", "score_id"),
        sa.Index(f"ix_{name}_open", "answered_at", "deadline"),
    )


reason_requests = _request_table("reason_requests")
human_review_requests = _request_table("human_review_requests")

#: what the challenger decided in the shadow of a champion decision (migration 0008): never returned to a client
shadow_decisions = sa.Table(
    "shadow_decisions",
    metadata,
    sa.Column("decision_id", sa.String(36), primary_key=True),
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("pd", sa.Float, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("band", sa.String(2), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("suggested_amount", sa.Float, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Index("ix_shadow_decisions_created", "created_at"),
)
