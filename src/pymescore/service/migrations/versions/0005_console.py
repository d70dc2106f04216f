"""The lending workbench: users, sessions, login events, uploaded cases and human actions.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("limit_pen", sa.Float, nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_users_tenant", "console_users", ["tenant"])
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(16), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_console_sessions_expires", "console_sessions", ["expires_at"])
    op.create_table(
        "console_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_console_events_tenant_at", "console_events", ["tenant", "at"])
    op.create_table(
        "console_cases",
        sa.Column("decision_id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
        sa.Column("histories", sa.JSON, nullable=False),
    )
    op.create_index("ix_console_cases_tenant_created", "console_cases", ["tenant", "created_at"])
    op.create_table(
        "human_actions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("amount", sa.Float, nullable=True),
        sa.Column("term_months", sa.Integer, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("reason_code", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("model_decision", sa.String(16), nullable=False),
        sa.Column("model_amount", sa.Float, nullable=False),
        sa.Column("needs_approver", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=True, unique=True),
    )
    op.create_index("ix_human_actions_tenant_decision", "human_actions", ["tenant", "decision_id", "created_at"])
    op.create_index("ix_human_actions_tenant_created", "human_actions", ["tenant", "created_at"])


def downgrade() -> None:
    for name in ("human_actions", "console_cases", "console_events", "console_sessions", "console_users"):
        op.drop_table(name)
