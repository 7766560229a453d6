"""Table rows -> public schemas (the API never returns a row itself)."""

from __future__ import annotations

from datetime import datetime

from controlplane.config import Settings
from controlplane.models.audit import AuditEvent
from controlplane.models.auth import ApiToken
from controlplane.models.host import Host, OrphanDomain
from controlplane.models.server import DeletionRecord, Server
from controlplane.protocol import AS_DESIRED, ObservedState
from controlplane.schemas.audit import AuditEventPublic
from controlplane.schemas.hosts import HostPublic, OrphanPublic, Usage
from controlplane.schemas.servers import DeletionRecordPublic, ServerAddress, ServerPublic
from controlplane.schemas.tokens import TokenPublic
from controlplane.services.fleet.hosts import host_health


def host_public(host: Host, *, now: datetime, settings: Settings, used: Usage | None) -> HostPublic:
    return HostPublic(
        id=host.id or 0,
        name=host.name,
        libvirt_uri=host.libvirt_uri,
        vcpus=host.vcpus,
        memory_mib=host.memory_mib,
        disk_gib=host.disk_gib,
        cpu_allocation_ratio=host.cpu_allocation_ratio,
        ram_allocation_ratio=host.ram_allocation_ratio,
        networks=list(host.networks),
        admin_state=host.admin_state,
        health=host_health(host, now=now, settings=settings).value,
        last_heartbeat_at=host.last_heartbeat_at,
        created_at=host.created_at,
        used=used or Usage(),
    )


def orphan_public(row: OrphanDomain) -> OrphanPublic:
    return OrphanPublic.model_validate(row, from_attributes=True)


def server_public(
    server: Server, *, host_name: str, addresses: list[ServerAddress] | None = None
) -> ServerPublic:
    state = AS_DESIRED.get(ObservedState(server.observed_state), server.observed_state)
    return ServerPublic.model_validate(
        {
            **server.model_dump(exclude={"password_hash"}),
            "host": host_name,
            "addresses": addresses or [],
            "state": state,
            "converged": state == server.desired_state,
            "has_password": server.password_hash is not None,
        }
    )


def deletion_record_public(record: DeletionRecord, *, host_name: str) -> DeletionRecordPublic:
    return DeletionRecordPublic.model_validate({**record.model_dump(), "host": host_name})


def token_public(row: ApiToken, *, host_name: str | None) -> TokenPublic:
    return TokenPublic.model_validate({**row.model_dump(), "host": host_name})


def audit_public(event: AuditEvent) -> AuditEventPublic:
    return AuditEventPublic.model_validate(event, from_attributes=True)
