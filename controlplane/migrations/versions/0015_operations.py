"""Hosts carry what running several of them needs: the hypervisor's identity as its agent reports it
(unique: one agent per libvirt host), the libvirt networks it has (address pools are checked against
them), and CPU/RAM overcommit ratios that placement applies (Nova's allocation ratios). Address pools can
be disabled (no new leases).

Revision ID: 0015_operations
Revises: 0014_terms_workflows
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_operations"
down_revision: str | None = "0012_tenants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("libvirt_host_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("networks", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("cpu_allocation_ratio", sa.Float(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("ram_allocation_ratio", sa.Float(), nullable=False, server_default="1"))
        batch.create_unique_constraint("uq_hosts_libvirt_host_id", ["libvirt_host_id"])
    with op.batch_alter_table("address_pools") as batch:
        batch.add_column(sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("address_pools") as batch:
        batch.drop_column("enabled")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_constraint("uq_hosts_libvirt_host_id", type_="unique")
        batch.drop_column("ram_allocation_ratio")
        batch.drop_column("cpu_allocation_ratio")
        batch.drop_column("networks")
        batch.drop_column("libvirt_host_id")
