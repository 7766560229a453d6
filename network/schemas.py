"""What the network API accepts and returns: declared schemas, never table rows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from controlplane.schemas.types import Id, Line, Moment, Text

Address = Annotated[Line, Field(min_length=1, max_length=64)]
HostRef = Annotated[Line, Field(min_length=1, max_length=63)]


class PoolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    cidr: Line = Field(min_length=1, max_length=64, examples=["192.0.2.0/24"])
    network_name: Line = Field(min_length=1, max_length=64, description="libvirt network on the hosts")
    gateway: Line | None = Field(default=None, max_length=64)
    reserved: list[Address] = Field(default_factory=list, max_length=4096)
    host_names: list[HostRef] = Field(default_factory=list, max_length=1024, description="empty: every host")
    description: Line | None = Field(default=None, max_length=400)
    # Told to the guests in their first-boot network config (issue 9).
    dns_servers: list[Address] = Field(default_factory=list, max_length=8)


class PoolUpdate(BaseModel):
    """Fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    description: Line | None = Field(default=None, max_length=400)
    host_names: list[HostRef] | None = Field(default=None, max_length=1024)


class PoolPublic(BaseModel):
    id: int
    name: str
    cidr: str
    ip_version: int
    gateway: str | None
    reserved: list[str]
    network_name: str
    host_names: list[str]
    description: str | None
    dns_servers: list[str] = Field(default_factory=list)
    created_at: datetime
    enabled: bool = True


class UtilisationPublic(BaseModel):
    pool_id: int
    size: int
    assigned: int
    quarantined: int
    free: int


class TenurePublic(BaseModel):
    lease_id: int
    address: str
    pool: str
    kind: str
    server_id: str
    contract_id: int | None
    customer_id: int | None
    customer_name: str | None
    leased_at: datetime
    released_at: datetime | None


class AddressHistory(BaseModel):
    address: str
    holders: list[TenurePublic]


class DisclosureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Line = Field(min_length=1, max_length=64)
    at: Moment = Field(description="the moment the address was used")
    request_number: Line = Field(min_length=1, max_length=128, description="the agency's request number")
    agency: Line = Field(min_length=1, max_length=200)


class DisclosedHolder(BaseModel):
    """Exactly the three fields Art. 24(5) allows, nothing else."""

    model_config = ConfigDict(extra="forbid")

    customer_name: str
    contact_name: str
    contact_phone: str


class DisclosureRecord(BaseModel):
    id: int
    requested_at: datetime
    requested_by: str
    address: str
    at: datetime
    request_number: str
    agency: str
    lease_id: int | None
    returned: dict[str, str] | None


class UsageRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Id
    reason: Text = Field(min_length=1, max_length=400)


class UsageResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response: Text = Field(min_length=1, max_length=4000)


class UsageRequestPublic(BaseModel):
    id: int
    customer_id: int
    addresses: list[str]
    reason: str
    requested_by: str
    requested_at: datetime
    response: str | None
    responded_at: datetime | None
