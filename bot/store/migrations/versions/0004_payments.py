"""Payments (deduplicated on debtor, amount and time) and the script each campaign attempt used.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(14, 2).with_variant(sa.String(24), "sqlite")  # as debtors.amount: exact text on SQLite


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], name="fk_payments_debtor_id_debtors",
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("debtor_id", "amount", "paid_at", name="uq_payments_debtor_id"),
    )
    # Nullable: attempts made before this revision did not record their script.
    op.add_column("campaign_attempts", sa.Column("script", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_attempts") as batch:
        batch.drop_column("script")
    op.drop_table("payments")
