"""Customers' objections to and acceptances of new terms versions (Art. 3(3),(4)).

Revision ID: 0006_terms_responses
Revises: 0005_annual_prepay_discount
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_terms_responses"
down_revision: str | None = "0005_annual_prepay_discount"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contract_terms_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("objected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contract_id", "version"),
    )
    op.create_index(
        op.f("ix_contract_terms_responses_contract_id"),
        "contract_terms_responses",
        ["contract_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_contract_terms_responses_contract_id"), table_name="contract_terms_responses")
    op.drop_table("contract_terms_responses")
