"""The web desk: users, sessions, used CSRF nonces, the audit trail, agent states, desk events.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", TIME, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_web_users"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["user"], ["web_users.name"], name="fk_web_sessions_user_web_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
    )
    op.create_table(
        "web_nonces",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("used_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("nonce", name="pk_web_nonces"),
    )
    op.create_table(
        "web_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("user", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_audit"),
    )
    op.create_index("ix_web_audit_at", "web_audit", ["at"])
    op.create_table(
        "agent_states",
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("since", TIME, nullable=False),
        sa.ForeignKeyConstraint(["agent"], ["web_users.name"], name="fk_agent_states_agent_web_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent", name="pk_agent_states"),
    )
    op.create_table(
        "desk_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=True),
        sa.Column("attempt_id", sa.String(32), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("result_attempt_id", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["agent"], ["web_users.name"], name="fk_desk_events_agent_web_users",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], name="fk_desk_events_debtor_id_debtors",
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_desk_events"),
    )
    op.create_index("ix_desk_events_agent", "desk_events", ["agent", "id"])


def downgrade() -> None:
    op.drop_index("ix_desk_events_agent", table_name="desk_events")
    op.drop_table("desk_events")
    op.drop_table("agent_states")
    op.drop_index("ix_web_audit_at", table_name="web_audit")
    op.drop_table("web_audit")
    op.drop_table("web_nonces")
    op.drop_table("web_sessions")
    op.drop_table("web_users")
