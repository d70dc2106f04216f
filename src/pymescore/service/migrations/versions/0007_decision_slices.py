"""The slices a reviewer groups decisions by — region (``department``), sector (``ciiu_section``) and size class —
and the requested amount and currency, as columns the database derives from each decision's features and
response, and one index that holds what the workbench's dashboard and queue read (tenant, time, slices, outcome,
score, band, amount), so that their pages parse no JSON.

Generated columns: nothing in the service writes them, and a decision row stays what the API inserted (STORED on
PostgreSQL; VIRTUAL on SQLite, whose ``ALTER TABLE`` adds no other kind, its values kept in the index).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"

COLUMNS = ("region", "sector", "size_class", "requested_amount", "currency")
INDEX = "ix_decisions_slices"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE decisions "
            "ADD COLUMN region TEXT GENERATED ALWAYS AS (features ->> 'department') STORED, "
            "ADD COLUMN sector TEXT GENERATED ALWAYS AS (features ->> 'ciiu_section') STORED, "
            "ADD COLUMN size_class DOUBLE PRECISION GENERATED ALWAYS AS (CASE WHEN json_typeof(features -> "
            "'size_class') = 'number' THEN (features ->> 'size_class')::double precision END) STORED, "
            "ADD COLUMN requested_amount DOUBLE PRECISION GENERATED ALWAYS AS (CASE WHEN json_typeof(response -> "
            "'requested_amount') = 'number' THEN (response ->> 'requested_amount')::double precision END) STORED, "
            "ADD COLUMN currency TEXT GENERATED ALWAYS AS (response ->> 'currency') STORED"
        )
    else:
        for column, source, key, kind in (
            ("region", "features", "department", "TEXT"), ("sector", "features", "ciiu_section", "TEXT"),
            ("size_class", "features", "size_class", "REAL"), ("requested_amount", "response", "requested_amount",
            "REAL"), ("currency", "response", "currency", "TEXT"),
        ):  # fmt: skip
            op.execute(f"ALTER TABLE decisions ADD COLUMN {column} {kind} GENERATED ALWAYS AS "
                       f"(json_extract({source}, '$.{key}')) VIRTUAL")  # fmt: skip
    op.create_index(INDEX, "decisions", ["tenant", "created_at", *COLUMNS, "decision", "score", "band", "ruc", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, "decisions")
    for column in COLUMNS:
        op.execute(f"ALTER TABLE decisions DROP COLUMN {column}")
