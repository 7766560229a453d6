"""Hypervisor hosts and the domains found on them that dcloud does not know."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Float, UniqueConstraint
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class HostAdminState(StrEnum):
    ACTIVE = "active"
    MAINTENANCE = "maintenance"


class HostHealth(StrEnum):
    """Derived, never stored: `up` while heartbeats arrive, `unknown` after two missed intervals."""

    UP = "up"
    UNKNOWN = "unknown"
    MAINTENANCE = "maintenance"


class Host(SQLModel, table=True):
    __tablename__ = "hosts"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=63, unique=True, index=True)
    libvirt_uri: str = Field(max_length=255)
    vcpus: int
    memory_mib: int
    disk_gib: int
    admin_state: str = Field(default=HostAdminState.ACTIVE, max_length=16)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_heartbeat_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # The hypervisor's own identity as its agent reports it (libvirt's capabilities host UUID): one agent,
    # hence one host row, per hypervisor; a second row claiming it is refused instead of counted twice.
    libvirt_host_id: str | None = Field(default=None, max_length=255, unique=True)
    # The libvirt networks the agent last reported (pools are checked against them).
    networks: list[Any] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # Overcommit like Nova's cpu_allocation_ratio / ram_allocation_ratio: placement may hand out
    # vcpus * ratio and memory_mib * ratio; disk is never overcommitted.
    cpu_allocation_ratio: float = Field(
        default=1.0, sa_column=Column(Float, nullable=False, server_default="1")
    )
    ram_allocation_ratio: float = Field(
        default=1.0, sa_column=Column(Float, nullable=False, server_default="1")
    )


class OrphanDomain(SQLModel, table=True):
    """A libvirt domain on a host that no dcloud server owns: reported, never destroyed."""

    __tablename__ = "orphan_domains"
    __table_args__ = (UniqueConstraint("host_id", "domain_uuid"),)

    id: int | None = Field(default=None, primary_key=True)
    host_id: int = Field(foreign_key="hosts.id", index=True)
    domain_name: str = Field(max_length=255)
    domain_uuid: str = Field(max_length=36)
    state: str = Field(max_length=32)
    first_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
