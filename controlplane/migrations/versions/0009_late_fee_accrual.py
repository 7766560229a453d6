"""Late fees accrue on every unpaid invoice, whether or not anything is paid (Art. 34, 33(2)).

`accrued_through` is the last overdue day a late-fee row covers; the next accrual starts the day after.
Rows from before (the part of a payment paid late, counted from the due date) keep it empty.

Revision ID: 0009_late_fee_accrual
Revises: 0008_invoice_disputes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_late_fee_accrual"
down_revision: str | None = "0008_invoice_disputes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("late_fees") as batch:
        batch.add_column(sa.Column("accrued_through", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("late_fees") as batch:
        batch.drop_column("accrued_through")
