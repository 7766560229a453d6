"""A plan change's server size waits on its fee period until the change's effective date (Art. 32(2)):
before this revision the size reached the servers when the change was asked for, so no existing row has
a size waiting, and every column starts NULL. Each period also names its plan, so an invoice names the
plan of the days it bills; existing rows keep NULL (the contract's plan, as before: the history of
plan names was never stored).

Revision ID: 0018_plan_change_sizes
Revises: 0017_unique_macs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_plan_change_sizes"
down_revision: str | None = "0017_unique_macs"
branch_labels = None
depends_on = None

_SIZES = ("server_vcpus", "server_memory_mib", "server_disk_gib")


def upgrade() -> None:
    with op.batch_alter_table("fee_periods") as batch:
        batch.add_column(sa.Column("plan", sa.String(length=64), nullable=True))
        for name in _SIZES:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch.add_column(sa.Column("server_size_settled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fee_periods") as batch:
        batch.drop_column("server_size_settled_at")
        for name in reversed(_SIZES):
            batch.drop_column(name)
        batch.drop_column("plan")
