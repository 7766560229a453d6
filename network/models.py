"""Tables of the network module (pools, leases, the free list, disclosures, usage-information requests).

Allocation design (Art. 24(1), and the NetBox/Neutron lesson): one active holder per address is a partial
unique index on `address_leases(address) WHERE released_at IS NULL`; the pool row is the per-pool lock;
a never-used cursor (`next_offset`) plus a free list of released addresses ordered by `released_at` keep
each allocation O(log n) however full the pool is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, text
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class AddressPool(SQLModel, table=True):
    __tablename__ = "address_pools"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    cidr: str = Field(max_length=64, unique=True)
    ip_version: int
    gateway: str | None = Field(default=None, max_length=64)
    # Resolvers a guest is told in its first-boot network config (issue 9); empty: none configured.
    dns_servers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Addresses never handed out besides network, broadcast and gateway (canonical strings).
    reserved: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The libvirt network on the host that carries this pool's addresses to the VMs.
    network_name: str = Field(max_length=64)
    # Host names this pool serves; empty means every host.
    host_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Offset from the network address of the next never-used address: the O(1) allocation cursor.
    next_offset: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # Leases ever granted; bumping it is also how an allocation takes the per-pool row lock.
    lease_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    description: str | None = Field(default=None, max_length=400)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # A disabled pool lends no new address; the ones it lent stay until released.
    enabled: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})


class AddressLease(SQLModel, table=True):
    """Who held which address from when to when; kept after termination (the address history)."""

    __tablename__ = "address_leases"
    __table_args__ = (
        Index(
            "uq_address_leases_active_address",
            "address",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_address_leases_pool_offset", "pool_id", "addr_offset"),
        # Over every lease ever made, not only active ones: a MAC names one interface in the history.
        Index("uq_address_leases_mac", "mac", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    pool_id: int = Field(foreign_key="address_pools.id", index=True)
    address: str = Field(max_length=64)
    addr_offset: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The interface's MAC (lower case, colon separated), drawn at random when the lease is made.
    mac: str = Field(max_length=17)
    # "primary" is the one address per server of Art. 24(1); "extra" needs the contract's agreement.
    kind: str = Field(default="primary", max_length=16)
    server_id: str = Field(max_length=32, index=True)
    contract_id: int | None = Field(default=None, index=True)
    customer_id: int | None = Field(default=None, index=True)
    leased_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    released_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class FreeAddress(SQLModel, table=True):
    """A released address waiting for reuse; eligible once its quarantine has passed."""

    __tablename__ = "address_free_list"
    __table_args__ = (Index("ix_address_free_list_pool_released", "pool_id", "released_at"),)

    pool_id: int = Field(foreign_key="address_pools.id", primary_key=True)
    addr_offset: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    address: str = Field(max_length=64)
    released_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Disclosure(SQLModel, table=True):
    """One law-enforcement disclosure (Art. 24(5)): who asked, on what basis, what was returned."""

    __tablename__ = "address_disclosures"

    id: int | None = Field(default=None, primary_key=True)
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    requested_by: str = Field(max_length=128)
    address: str = Field(max_length=64, index=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    request_number: str = Field(max_length=128)
    agency: str = Field(max_length=200)
    lease_id: int | None = Field(default=None)
    returned: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class UsageInfoRequest(SQLModel, table=True):
    """The company asking a customer how it uses its addresses (Art. 24(4)), and the answer."""

    __tablename__ = "address_usage_requests"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    addresses: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str = Field(max_length=400)
    requested_by: str = Field(max_length=128)
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    response: str | None = Field(default=None, max_length=4000)
    responded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
