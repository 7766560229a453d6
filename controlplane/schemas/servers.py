"""Server schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from controlplane.protocol import DesiredState, DomainType, ObservedState
from controlplane.schemas.first_boot import Hostname, PasswordHash, SshPublicKey
from controlplane.schemas.types import Id, IntegerOnly, Key, Line, Whole

MAX_MEMORY_MIB = 1024 * 1024  # 1 TiB
MAX_DISK_GIB = 64 * 1024  # 64 TiB


class ServerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(min_length=1, max_length=128)
    vcpus: Whole = Field(ge=1, le=64)
    memory_mib: Whole = Field(ge=64, le=MAX_MEMORY_MIB)
    disk_gib: Whole = Field(ge=1, le=MAX_DISK_GIB)
    host: Line | None = Field(default=None, min_length=1, max_length=63)
    contract_id: Id | None = None
    # The address pool to lease from (it must serve the host); default: the host's pools, then shared ones.
    pool: Line | None = Field(default=None, min_length=1, max_length=64)
    # Issue 9: boot from an image (else a blank disk), customised on first boot by cloud-init.
    image_id: Key | None = Field(default=None, max_length=32)
    hostname: Hostname | None = None
    ssh_authorized_keys: list[SshPublicKey] = Field(default_factory=list, max_length=32)
    password_hash: PasswordHash | None = Field(default=None, description="a crypt(3) hash, never plaintext")
    domain_type: DomainType | None = Field(
        default=None, description="kvm, or qemu (TCG); default: the host's"
    )


class ServerAddress(BaseModel):
    address: str
    pool: str
    kind: str  # primary (Art. 24(1)) or extra (by the contract's agreement)
    network: str
    mac: str


class ServerReboot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hard: bool = Field(default=False, description="reset at once instead of asking the guest (ACPI/agent)")


class ServerResize(BaseModel):
    """New sizes (any subset); the disk only grows. CPU and memory take effect at the next boot."""

    model_config = ConfigDict(extra="forbid")

    vcpus: Annotated[int, Field(ge=1, le=64), IntegerOnly] | None = None
    memory_mib: Annotated[int, Field(ge=64, le=MAX_MEMORY_MIB), IntegerOnly] | None = None
    disk_gib: Annotated[int, Field(ge=1, le=MAX_DISK_GIB), IntegerOnly] | None = None


# The observed state in the desired state's vocabulary (controlplane.protocol.AS_DESIRED).
ShownState = Literal["running", "stopped", "suspended", "deleted", "pending", "error"]


class ServerPublic(BaseModel):
    id: str
    name: str
    host: str
    contract_id: int | None
    vcpus: int
    memory_mib: int
    disk_gib: int
    desired_state: DesiredState
    observed_state: ObservedState
    observed_detail: str | None
    # The observed state in the desired state's vocabulary (paused/saved -> suspended, shutoff ->
    # stopped), and whether the host shows what was ordered.
    state: ShownState
    converged: bool
    generation: int
    created_at: datetime
    updated_at: datetime
    observed_at: datetime | None
    deleted_at: datetime | None
    addresses: list[ServerAddress] = Field(default_factory=list)
    image_id: str | None = None
    hostname: str | None = None
    ssh_authorized_keys: list[str] = Field(default_factory=list)
    # Whether a password hash is set; the hash itself is never shown.
    has_password: bool = False
    domain_type: DomainType | None = None
    reboot_seq: int = 0
    observed_vcpus: int | None = None
    observed_memory_mib: int | None = None
    observed_disk_bytes: int | None = None


class DeletionRecordPublic(BaseModel):
    server_id: str
    host: str
    domain_name: str
    volumes: list[dict[str, Any]]
    # Image bases the server's disk was an overlay on: listed, never wiped, no customer data in them.
    shared_bases: list[dict[str, Any]] = Field(default_factory=list)
    bytes_overwritten: int
    method: str
    started_at: datetime
    finished_at: datetime
    received_at: datetime
