"""Servers (VMs): what the control plane wants, what the agent last saw, and deletion records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime, new_id
from controlplane.protocol import DesiredState, ObservedState

# The server states are the wire contract's (protocol.py); the columns store their values.
__all__ = ["DeletionRecord", "DesiredState", "ObservedState", "Server"]


class Server(SQLModel, table=True):
    __tablename__ = "servers"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=128)
    host_id: int = Field(foreign_key="hosts.id", index=True)
    contract_id: int | None = Field(default=None, foreign_key="contracts.id", index=True)
    vcpus: int
    memory_mib: int
    disk_gib: int
    desired_state: str = Field(default=DesiredState.RUNNING, max_length=16, index=True)
    observed_state: str = Field(default=ObservedState.PENDING, max_length=16)
    observed_detail: str | None = Field(default=None, max_length=1024)
    # Bumped on every desired-state change so agents and audits can tell old orders from new.
    generation: int = Field(default=1)
    # Set when a restriction suspended it: lifting the restriction resumes only these (Art. 16(5)).
    suspended_by_restriction: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    # Set while a suspend-and-resume maintenance window holds it saved: the agent managed-saves it (RAM
    # freed, state kept) whatever its suspend mode, and the window's end restores it (Art. 14(2)).
    suspended_for_maintenance: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    # Boot source and first-boot setup (issue 9): no image means a blank disk, as before.
    image_id: str | None = Field(default=None, foreign_key="images.id", index=True, max_length=32)
    hostname: str | None = Field(default=None, max_length=63)
    ssh_authorized_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Only ever a crypt(3) hash: dcloud never receives or stores a plaintext password.
    password_hash: str | None = Field(default=None, max_length=255)
    # "kvm" or "qemu" (TCG) for this server only; None: the host agent's own choice.
    domain_type: str | None = Field(default=None, max_length=8)
    # Each reboot order bumps the sequence; the agent applies every sequence number once.
    reboot_seq: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    reboot_hard: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    # What the agent last saw of the running definition (the resize's "observed size").
    observed_vcpus: int | None = None
    observed_memory_mib: int | None = None
    observed_disk_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    observed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    deleted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class DeletionRecord(SQLModel, table=True):
    """Proof that a server's disks were overwritten before its volumes were deleted (Art. 20(8))."""

    __tablename__ = "deletion_records"

    id: int | None = Field(default=None, primary_key=True)
    server_id: str = Field(foreign_key="servers.id", unique=True, max_length=32)
    host_id: int = Field(foreign_key="hosts.id")
    domain_name: str = Field(max_length=255)
    volumes: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    bytes_overwritten: int = Field(sa_column=Column(BigInteger, nullable=False))
    method: str = Field(max_length=64)
    # Shared image bases the server's overlay sat on: listed, never wiped (they hold no customer data).
    shared_bases: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
