"""Debtors' contact requests (restrictions, suspensions, debt adjustments) and the suppression audit trail.

Revision ID: 0009
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "contact_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], name="fk_contact_requests_debtor_id_debtors",
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_contact_requests"),
    )
    op.create_index("ix_contact_requests_debtor_id", "contact_requests", ["debtor_id", "at"])
    op.create_table(
        "suppression_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppression_audit"),
    )
    op.create_index("ix_suppression_audit_phone", "suppression_audit", ["phone", "at"])


def downgrade() -> None:
    op.drop_index("ix_suppression_audit_phone", "suppression_audit")
    op.drop_table("suppression_audit")
    op.drop_index("ix_contact_requests_debtor_id", "contact_requests")
    op.drop_table("contact_requests")
