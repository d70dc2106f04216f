"""Alembic environment: the connection comes from :func:`pymescore.service._store.migrate`."""

from __future__ import annotations

from alembic import context

from pymescore.service._tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
