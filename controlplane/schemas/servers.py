"""Server schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from controlplane.protocol import DesiredState, ObservedState
from controlplane.schemas.types import Id, Line, Whole

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


class ServerAddress(BaseModel):
    address: str
    pool: str
    kind: str  # primary (Art. 24(1)) or extra (by the contract's agreement)
    network: str
    mac: str


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
    state: Literal["running", "stopped", "suspended", "deleted", "pending", "error"]
    converged: bool
    generation: int
    created_at: datetime
    updated_at: datetime
    observed_at: datetime | None
    deleted_at: datetime | None
    addresses: list[ServerAddress] = Field(default_factory=list)


class DeletionRecordPublic(BaseModel):
    server_id: str
    host: str
    domain_name: str
    volumes: list[dict[str, Any]]
    bytes_overwritten: int
    method: str
    started_at: datetime
    finished_at: datetime
    received_at: datetime
