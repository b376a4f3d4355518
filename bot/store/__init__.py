"""Persistence: SQLAlchemy models, Alembic migrations, and ``repo.Store``, the only session user.

Open a database with ``bot.store.repo.open_store(url)``; it is migrated to the newest schema.
"""
