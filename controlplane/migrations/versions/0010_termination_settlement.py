"""A termination's service ends (`ended_at`: every server wiped, contract `terminated`) before its record
completes (`completed_at`: the final statement issued and nothing left unpaid, Art. 33(2), 20(6)).

Revision ID: 0010_termination_settlement
Revises: 0009_late_fee_accrual
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_termination_settlement"
down_revision: str | None = "0009_late_fee_accrual"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("terminations") as batch:
        batch.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("terminations") as batch:
        batch.drop_column("ended_at")
