"""Planned calls as stored rows (follow_ups): retries with their due time and the follow-ups
of interrupted calls, so that no count or plan lives only in a runner's memory; and the
controller that placed each attempt, with controller leases, for several controllers.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("round", sa.String(64), nullable=True),
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("origin_attempt_id", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempt_id", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign"], ["campaigns.name"], name="fk_follow_ups_campaign_campaigns"),
        sa.PrimaryKeyConstraint("id", name="pk_follow_ups"),
        sa.UniqueConstraint("origin_attempt_id", "reason", name="uq_follow_ups_origin_attempt_id"),
    )
    op.create_index("ix_follow_ups_campaign", "follow_ups", ["campaign", "state", "due_at"])
    op.create_table(
        "controllers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_controllers"),
    )
    with op.batch_alter_table("call_attempts") as batch:
        batch.add_column(sa.Column("controller", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_column("controller")
    op.drop_table("controllers")
    op.drop_index("ix_follow_ups_campaign", table_name="follow_ups")
    op.drop_table("follow_ups")
