"""Campaigns keep the definition `collbot campaign add` registered, so `collbot serve` can run them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a campaign only ever started with `collbot run FILE` has no stored definition.
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("source_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("definition", sa.Text(), nullable=True))
        batch.add_column(sa.Column("definition_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("definition_sha256")
        batch.drop_column("definition")
        batch.drop_column("source_path")
