"""Images and first boot (issue 9): the images table, a server's boot source and first-boot inputs, its
reboot orders and observed size, the shared bases a deletion record lists, and a pool's DNS servers.

Revision ID: 0013_images
Revises: 0014_terms_workflows
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_images"
down_revision: str | None = "0015_operations"
branch_labels = None
depends_on = None

_EMPTY_LIST = sa.text("'[]'")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.String(length=1024), nullable=True),
        sa.Column("source", sa.String(length=2048), nullable=False),
        sa.Column("expected_sha256", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("disk_format", sa.String(length=16), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("virtual_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("min_disk_gib", sa.Integer(), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_images_state", "images", ["state"])
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("image_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("hostname", sa.String(length=63), nullable=True))
        batch.add_column(
            sa.Column("ssh_authorized_keys", sa.JSON(), nullable=False, server_default=_EMPTY_LIST)
        )
        batch.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("domain_type", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("reboot_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("reboot_hard", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("observed_vcpus", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("observed_memory_mib", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("observed_disk_bytes", sa.BigInteger(), nullable=True))
        batch.create_foreign_key("fk_servers_image_id_images", "images", ["image_id"], ["id"])
        batch.create_index("ix_servers_image_id", ["image_id"])
    with op.batch_alter_table("deletion_records") as batch:
        batch.add_column(sa.Column("shared_bases", sa.JSON(), nullable=False, server_default=_EMPTY_LIST))
    with op.batch_alter_table("address_pools") as batch:
        batch.add_column(sa.Column("dns_servers", sa.JSON(), nullable=False, server_default=_EMPTY_LIST))


def downgrade() -> None:
    with op.batch_alter_table("address_pools") as batch:
        batch.drop_column("dns_servers")
    with op.batch_alter_table("deletion_records") as batch:
        batch.drop_column("shared_bases")
    with op.batch_alter_table("servers") as batch:
        batch.drop_index("ix_servers_image_id")
        batch.drop_constraint("fk_servers_image_id_images", type_="foreignkey")
        for column in (
            "observed_disk_bytes",
            "observed_memory_mib",
            "observed_vcpus",
            "reboot_hard",
            "reboot_seq",
            "domain_type",
            "password_hash",
            "ssh_authorized_keys",
            "hostname",
            "image_id",
        ):
            batch.drop_column(column)
    op.drop_index("ix_images_state", "images")
    op.drop_table("images")
