"""The shadow challenger's decisions: one row per champion decision and challenger version, written after the
champion's answer left (``service/_shadow.py``), never returned to a client; ``pymescore monitor`` compares them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "shadow_decisions",
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
    )
    op.create_index("ix_shadow_decisions_created", "shadow_decisions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_shadow_decisions_created", "shadow_decisions")
    op.drop_table("shadow_decisions")
