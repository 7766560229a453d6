"""MACs stored per lease (issue 13, item 5): new leases draw a random locally administered unicast MAC,
and a unique index keeps every MAC ever handed out distinct.

Existing leases keep the MAC they were shown with until now (02:dc, then the lease id's low 32 bits), so a
running guest's interface does not change; those are distinct already, one per lease id.

Revision ID: 0017_unique_macs
Revises: 0013_images
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_unique_macs"
down_revision: str | None = "0013_images"
branch_labels = None
depends_on = None

_leases = sa.table("address_leases", sa.column("id", sa.Integer()), sa.column("mac", sa.String()))


def _derived_mac(lease_id: int) -> str:
    """The MAC `ipam.mac_for_lease` gave a lease before this revision (frozen here, not imported)."""
    octets = (0x02, 0xDC, *(lease_id & 0xFFFFFFFF).to_bytes(4, "big"))
    return ":".join(f"{o:02x}" for o in octets)


def upgrade() -> None:
    with op.batch_alter_table("address_leases") as batch:
        batch.add_column(sa.Column("mac", sa.String(length=17), nullable=True))
    conn = op.get_bind()
    ids = conn.execute(sa.select(_leases.c.id)).scalars().all()
    if ids:
        update = _leases.update().where(_leases.c.id == sa.bindparam("lease_id"))
        conn.execute(
            update.values(mac=sa.bindparam("new_mac")),
            [{"lease_id": i, "new_mac": _derived_mac(i)} for i in ids],
        )
    with op.batch_alter_table("address_leases") as batch:
        batch.alter_column("mac", existing_type=sa.String(length=17), nullable=False)
        batch.create_index("uq_address_leases_mac", ["mac"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("address_leases") as batch:
        batch.drop_index("uq_address_leases_mac")
        batch.drop_column("mac")
