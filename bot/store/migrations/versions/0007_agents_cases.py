"""Agents, case ownership with its history, and the debtors' days-past-due and model score.

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Nullable: debtors imported before this revision have neither (dpd then counts from due_date).
    with op.batch_alter_table("debtors") as batch:
        batch.add_column(sa.Column("overdue_since", sa.Date(), nullable=True))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
    op.create_table(
        "agents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
    )
    op.create_table(
        "case_owners",
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("since", TIME, nullable=False),
        sa.Column("why", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], name="fk_case_owners_debtor_id_debtors",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name="fk_case_owners_agent_id_agents",
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("debtor_id", name="pk_case_owners"),
    )
    op.create_index("ix_case_owners_agent_id", "case_owners", ["agent_id"])
    op.create_table(
        "case_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.Column("from_agent", sa.String(64), nullable=True),
        sa.Column("to_agent", sa.String(64), nullable=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("why", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], name="fk_case_history_debtor_id_debtors",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_case_history"),
    )
    op.create_index("ix_case_history_debtor_id", "case_history", ["debtor_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_case_history_debtor_id", table_name="case_history")
    op.drop_table("case_history")
    op.drop_index("ix_case_owners_agent_id", table_name="case_owners")
    op.drop_table("case_owners")
    op.drop_table("agents")
    with op.batch_alter_table("debtors") as batch:
        batch.drop_column("score")
        batch.drop_column("overdue_since")
