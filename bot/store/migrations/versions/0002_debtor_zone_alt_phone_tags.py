"""Debtors get an explicit time zone, a second number and tags (from the CSV import).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("debtors") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))
        batch.add_column(sa.Column("alt_phone", sa.String(16), nullable=True))
        # Existing debtors get no tags; the default is also what the column falls back to.
        batch.add_column(sa.Column("tags", JSON, nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("debtors") as batch:
        batch.drop_column("tags")
        batch.drop_column("alt_phone")
        batch.drop_column("timezone")
