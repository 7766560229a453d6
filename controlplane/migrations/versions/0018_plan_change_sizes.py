"""A plan change's server size waits on its fee period until the change's effective date (Art. 32(2)):
before this revision the size reached the servers when the change was asked for, so no existing row has
a size waiting, and every size column starts NULL. Each period also names its plan, so an invoice names
the plan of the days it bills. The history of plan names was never stored, but until now the contract's
plan was always that of the latest recorded change: each contract's latest period takes it, when no
period was recorded out of date order (else which change named the contract is unknown). Earlier periods
keep NULL (the contract's plan, as before).

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

# Each contract's latest period takes the contract's plan, unless a period dated earlier than another was
# recorded after it (a higher id): then the contract's plan may be that earlier-dated change's.
_NAME_THE_LATEST_PERIODS = sa.text(
    """
    UPDATE fee_periods SET plan = (SELECT c.plan FROM contracts c WHERE c.id = fee_periods.contract_id)
    WHERE effective_from = (
        SELECT MAX(f.effective_from) FROM fee_periods f WHERE f.contract_id = fee_periods.contract_id
    )
    AND NOT EXISTS (
        SELECT 1 FROM fee_periods a JOIN fee_periods b
            ON b.contract_id = a.contract_id AND a.effective_from < b.effective_from AND a.id > b.id
        WHERE a.contract_id = fee_periods.contract_id
    )
    """
)


def upgrade() -> None:
    with op.batch_alter_table("fee_periods") as batch:
        batch.add_column(sa.Column("plan", sa.String(length=64), nullable=True))
        for name in _SIZES:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch.add_column(sa.Column("server_size_settled_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(_NAME_THE_LATEST_PERIODS)


def downgrade() -> None:
    with op.batch_alter_table("fee_periods") as batch:
        batch.drop_column("server_size_settled_at")
        for name in reversed(_SIZES):
            batch.drop_column(name)
        batch.drop_column("plan")
