"""Debtors, call attempts and call events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Written out here, not imported, so later model changes cannot alter this migration.
ACTIVE_WHERE = "state IN ('queued', 'dialing', 'answered')"
STATE_CHECK = "state IN ('queued', 'dialing', 'answered', 'completed', 'unknown')"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
MONEY = sa.Numeric(14, 2).with_variant(sa.String(24), "sqlite")  # exact text on SQLite


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "debtors",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("extra", JSON, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_debtors"),
    )
    op.create_table(
        "call_attempts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("outcome_detail", JSON, nullable=False),
        _time("created_at"),
        _time("dialed_at", nullable=True),
        _time("answered_at", nullable=True),
        _time("ended_at", nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.CheckConstraint(STATE_CHECK, name="ck_call_attempts_state"),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtors.id"], ondelete="RESTRICT",
            name="fk_call_attempts_debtor_id_debtors",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_call_attempts"),
    )
    op.create_index("ix_call_attempts_debtor_id", "call_attempts", ["debtor_id", "created_at"])
    for name, column in (("debtor", "debtor_id"), ("phone", "phone")):
        op.create_index(
            f"uq_call_attempts_active_{name}",
            "call_attempts",
            [column],
            unique=True,
            sqlite_where=sa.text(ACTIVE_WHERE),
            postgresql_where=sa.text(ACTIVE_WHERE),
        )
    op.create_table(
        "call_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["call_attempts.id"], ondelete="CASCADE",
            name="fk_call_events_attempt_id_call_attempts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_call_events"),
        sa.UniqueConstraint("attempt_id", "seq", name="uq_call_events_attempt_id"),
    )


def downgrade() -> None:
    op.drop_table("call_events")
    op.drop_index("uq_call_attempts_active_phone", table_name="call_attempts")
    op.drop_index("uq_call_attempts_active_debtor", table_name="call_attempts")
    op.drop_index("ix_call_attempts_debtor_id", table_name="call_attempts")
    op.drop_table("call_attempts")
    op.drop_table("debtors")
