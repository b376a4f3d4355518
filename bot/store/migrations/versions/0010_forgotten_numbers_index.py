"""A partial index on the keyed hashes of forgotten numbers in call_attempts: a debtor imported again
with a forgotten number finds that number's calls (caps still count them) without a scan of the ledger.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FORGOTTEN = "phone LIKE '#%'"


def upgrade() -> None:
    op.create_index("ix_call_attempts_forgotten_phone", "call_attempts", ["phone"],
                    sqlite_where=sa.text(FORGOTTEN), postgresql_where=sa.text(FORGOTTEN))


def downgrade() -> None:
    op.drop_index("ix_call_attempts_forgotten_phone", "call_attempts")
