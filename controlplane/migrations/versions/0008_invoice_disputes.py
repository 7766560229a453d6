"""Invoice disputes (Art. 35(1),(2)): the disputed part stops the restriction and late-fee clocks.

Revision ID: 0008_invoice_disputes
Revises: 0007_termination_confirmation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_invoice_disputes"
down_revision: str | None = "0007_termination_confirmation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by", sa.String(length=128), nullable=False),
        sa.Column("answer_due_on", sa.Date(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("corrected_amount", sa.BigInteger(), nullable=False),
        sa.Column("answer", sa.String(length=1000), nullable=True),
        sa.Column("restrict_not_before", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_invoice_disputes_invoice_id"), "invoice_disputes", ["invoice_id"], unique=False)
    op.create_index(
        op.f("ix_invoice_disputes_contract_id"), "invoice_disputes", ["contract_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_invoice_disputes_contract_id"), table_name="invoice_disputes")
    op.drop_index(op.f("ix_invoice_disputes_invoice_id"), table_name="invoice_disputes")
    op.drop_table("invoice_disputes")
