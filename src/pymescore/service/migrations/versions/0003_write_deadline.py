"""PostgreSQL refuses to commit a decision after its write's deadline (a deferred constraint trigger).

The service sets ``pymescore.deadline`` (transaction-local) before it writes decisions; at COMMIT the
trigger compares it with the server's clock. A database frozen mid-write (SIGSTOP, a stalled disk) that
resumes after the client was answered 503 then rolls the write back instead of storing a decision
nobody received. SQLite needs none: the write runs in the service's own process, which checks the deadline
before it commits.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"

FUNCTION = """
CREATE OR REPLACE FUNCTION pymescore_write_deadline() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    deadline text := current_setting('pymescore.deadline', true);
BEGIN
    IF deadline IS NOT NULL AND deadline <> '' AND clock_timestamp() > deadline::timestamptz THEN
        RAISE EXCEPTION 'pymescore: decision write past its deadline %, rolled back', deadline
            USING ERRCODE = '57014';
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table, event in (("decisions", "INSERT"), ("idempotency_keys", "UPDATE")):
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {table}_write_deadline AFTER {event} ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pymescore_write_deadline()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("decisions", "idempotency_keys"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_write_deadline ON {table}")
    op.execute("DROP FUNCTION IF EXISTS pymescore_write_deadline()")
