"""Server schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from controlplane.protocol import DesiredState, ObservedState

MAX_MEMORY_MIB = 1024 * 1024  # 1 TiB
MAX_DISK_GIB = 64 * 1024  # 64 TiB


class ServerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    vcpus: int = Field(ge=1, le=64)
    memory_mib: int = Field(ge=64, le=MAX_MEMORY_MIB)
    disk_gib: int = Field(ge=1, le=MAX_DISK_GIB)
    host: str | None = Field(default=None, min_length=1, max_length=63)
    contract_id: int | None = Field(default=None, ge=1)


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
    generation: int
    created_at: datetime
    updated_at: datetime
    observed_at: datetime | None
    deleted_at: datetime | None


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
