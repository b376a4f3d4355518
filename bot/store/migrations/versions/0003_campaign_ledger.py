"""The campaign ledger: campaigns, rounds, attempt-to-round links, compliance decisions,
and suppressed numbers.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("name", name="pk_campaigns"),
    )
    op.create_table(
        "campaign_rounds",
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        _time("ended_at", nullable=True),
        sa.ForeignKeyConstraint(["campaign"], ["campaigns.name"], name="fk_campaign_rounds_campaign_campaigns"),
        sa.PrimaryKeyConstraint("campaign", "name", name="pk_campaign_rounds"),
    )
    op.create_table(
        "campaign_attempts",
        sa.Column("attempt_id", sa.String(32), nullable=False),
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("round", sa.String(64), nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["call_attempts.id"],
                                name="fk_campaign_attempts_attempt_id_call_attempts"),
        sa.ForeignKeyConstraint(["campaign"], ["campaigns.name"], name="fk_campaign_attempts_campaign_campaigns"),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_campaign_attempts"),
    )
    op.create_index("ix_campaign_attempts_campaign", "campaign_attempts", ["campaign", "debtor_id"])
    op.create_table(
        "compliance_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("round", sa.String(64), nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.Column("attempt_id", sa.String(32), nullable=True),
        _time("at"),
        sa.Column("allow", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(48), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_compliance_decisions"),
    )
    op.create_index("ix_compliance_decisions_campaign", "compliance_decisions", ["campaign", "debtor_id", "at"])
    op.create_table(
        "suppressions",
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=True),
        _time("at"),
        sa.PrimaryKeyConstraint("phone", name="pk_suppressions"),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_index("ix_compliance_decisions_campaign", table_name="compliance_decisions")
    op.drop_table("compliance_decisions")
    op.drop_index("ix_campaign_attempts_campaign", table_name="campaign_attempts")
    op.drop_table("campaign_attempts")
    op.drop_table("campaign_rounds")
    op.drop_table("campaigns")
