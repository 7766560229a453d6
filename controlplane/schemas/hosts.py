"""Host schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from controlplane.schemas.types import Line, Whole

# A DNS label-ish name: the agent finds its host by this name, and it ends up in URLs.
HostName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
# Nova's allocation ratios: placement may hand out capacity * ratio (CPU time shares well, RAM less so).
AllocationRatio = Annotated[float, Field(ge=0.1, le=32.0, allow_inf_nan=False, strict=True)]


class HostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: HostName
    libvirt_uri: Line = Field(min_length=1, max_length=255)
    vcpus: Whole = Field(ge=1, le=4096)
    memory_mib: Whole = Field(ge=64, le=64 * 1024 * 1024)
    disk_gib: Whole = Field(ge=1, le=1024 * 1024)
    cpu_allocation_ratio: AllocationRatio = 1.0
    ram_allocation_ratio: AllocationRatio = 1.0


class HostUpdate(BaseModel):
    """What an operator may change on a host; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    admin_state: Literal["active", "maintenance"] | None = None
    cpu_allocation_ratio: AllocationRatio | None = None
    ram_allocation_ratio: AllocationRatio | None = None


class Usage(BaseModel):
    vcpus: int = 0
    memory_mib: int = 0
    disk_gib: int = 0
    servers: int = 0


class HostPublic(BaseModel):
    id: int
    name: str
    libvirt_uri: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    cpu_allocation_ratio: float
    ram_allocation_ratio: float
    # The libvirt networks the host's agent last reported (address pools must use one of them).
    networks: list[str]
    admin_state: str
    health: Literal["up", "unknown", "maintenance"]
    last_heartbeat_at: datetime | None
    created_at: datetime
    used: Usage


class OrphanPublic(BaseModel):
    domain_name: str
    domain_uuid: str
    state: str
    first_seen_at: datetime
    last_seen_at: datetime
