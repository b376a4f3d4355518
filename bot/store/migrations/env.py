"""Alembic environment: always run from ``bot.store.repo`` with an open connection.

There is no alembic.ini; ``bot.store.repo.alembic_config`` builds the configuration.
"""

from __future__ import annotations

from alembic import context

from bot.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through bot.store.repo.open_store / migrate")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table copies to ALTER
)
with context.begin_transaction():
    context.run_migrations()
