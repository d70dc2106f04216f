"""Applicants' requests on a decision: reasons for a denial (Ley 32294, Res. SBS 01689-2025) and human review
(DS 115-2025-PCM).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    for name in ("reason_requests", "human_review_requests"):
        op.create_table(
            name,
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("tenant", sa.String(64), nullable=False),
            sa.Column("score_id", sa.String(36), nullable=False),
            sa.Column("requested_on", sa.Date, nullable=False),
            sa.Column("channel", sa.String(16), nullable=False),
            sa.Column("deadline", sa.Date, nullable=False),
            sa.Column("note", sa.String(1000), nullable=False, server_default=""),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        )
        op.create_index(f"ix_{name}_tenant_score", name, ["tenant", "score_id"])
        op.create_index(f"ix_{name}_open", name, ["answered_at", "deadline"])


def downgrade() -> None:
    for name in ("reason_requests", "human_review_requests"):
        op.drop_table(name)
