"""The annual-prepay discount agreed per contract (Art. 30(2)-3, 20(7)), in won per term.

Annual prepayments are billed as `12 x discounted monthly fee - this discount` and refunded net of it
on early termination; existing contracts agreed none, hence the default 0.

Revision ID: 0005_annual_prepay_discount
Revises: 0004_suspension_origin
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_annual_prepay_discount"
down_revision: str | None = "0004_suspension_origin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(
            sa.Column("annual_prepay_discount", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("annual_prepay_discount")
