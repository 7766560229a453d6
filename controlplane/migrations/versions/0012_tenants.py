"""Tenants and token expiry: a `customer` token is bound to one customer (`customer_id`), and any token
may carry an instant after which it authenticates nobody (`expires_at`).

Revision ID: 0012_tenants
Revises: 0014_terms_workflows
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_tenants"
down_revision: str | None = "0016_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key("fk_api_tokens_customer_id", "customers", ["customer_id"], ["id"])
        batch.create_index(batch.f("ix_api_tokens_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index(batch.f("ix_api_tokens_customer_id"))
        batch.drop_constraint("fk_api_tokens_customer_id", type_="foreignkey")
        batch.drop_column("expires_at")
        batch.drop_column("customer_id")
