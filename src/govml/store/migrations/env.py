"""Alembic environment: migrations run on a connection handed over by govml's Store."""

from __future__ import annotations

from alembic import context

from govml.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("govml migrations run through `govml db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
