"""Remember which servers a restriction suspended, so lifting it resumes only those.

A server the customer had suspended itself before the restriction stays suspended when the block
is lifted (Art. 16(5) restores what the restriction took away, nothing more).

Revision ID: 0004_suspension_origin
Revises: 0003_billing
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_suspension_origin"
down_revision: str | None = "0003_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.add_column(
            sa.Column("suspended_by_restriction", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("suspended_by_restriction")
