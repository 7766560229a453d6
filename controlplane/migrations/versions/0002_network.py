"""Network: address pools, leases (the address history), free list, disclosures, usage-information requests.

The partial unique index on active leases is what makes "one holder per address" true (Art. 24(1)).
Types are frozen here (plain sa types) so later model edits never rewrite history.

Revision ID: 0002_network
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_network"
down_revision: str | None = "0001_foundation"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "address_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=True),
        sa.Column("reserved", sa.JSON(), nullable=False),
        sa.Column("network_name", sa.String(length=64), nullable=False),
        sa.Column("host_names", sa.JSON(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("lease_count", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=400), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("cidr"),
    )
    op.create_table(
        "address_leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("addr_offset", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("server_id", sa.String(length=32), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("leased_at", _tz(), nullable=False),
        sa.Column("released_at", _tz(), nullable=True),
        sa.ForeignKeyConstraint(["pool_id"], ["address_pools.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_address_leases_active_address",
        "address_leases",
        ["address"],
        unique=True,
        sqlite_where=sa.text("released_at IS NULL"),
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_index("ix_address_leases_pool_offset", "address_leases", ["pool_id", "addr_offset"])
    op.create_index(op.f("ix_address_leases_pool_id"), "address_leases", ["pool_id"])
    op.create_index(op.f("ix_address_leases_server_id"), "address_leases", ["server_id"])
    op.create_index(op.f("ix_address_leases_contract_id"), "address_leases", ["contract_id"])
    op.create_index(op.f("ix_address_leases_customer_id"), "address_leases", ["customer_id"])
    op.create_table(
        "address_free_list",
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("addr_offset", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("released_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["address_pools.id"]),
        sa.PrimaryKeyConstraint("pool_id", "addr_offset"),
    )
    op.create_index("ix_address_free_list_pool_released", "address_free_list", ["pool_id", "released_at"])
    _create_disclosure_tables()


def _create_disclosure_tables() -> None:
    op.create_table(
        "address_disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_at", _tz(), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("request_number", sa.String(length=128), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("lease_id", sa.Integer(), nullable=True),
        sa.Column("returned", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_address_disclosures_requested_at"), "address_disclosures", ["requested_at"])
    op.create_index(op.f("ix_address_disclosures_address"), "address_disclosures", ["address"])
    op.create_table(
        "address_usage_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", _tz(), nullable=False),
        sa.Column("response", sa.String(length=4000), nullable=True),
        sa.Column("responded_at", _tz(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_address_usage_requests_customer_id"), "address_usage_requests", ["customer_id"])


def downgrade() -> None:
    op.drop_table("address_usage_requests")
    op.drop_table("address_disclosures")
    op.drop_table("address_free_list")
    op.drop_table("address_leases")
    op.drop_table("address_pools")
