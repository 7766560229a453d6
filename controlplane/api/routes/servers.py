"""/v1/servers: create (placed), list, get, lifecycle actions, delete, deletion record.

A customer token lists and reads its own servers and starts or stops them, never while a full
restriction is active (server_guards.py); another customer's server is a 404 to it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlmodel import Session

from controlplane.api.deps import ClockDep, Principal, SessionDep, SettingsDep, TenantDep, require_roles
from controlplane.api.presenters import deletion_record_public, server_public
from controlplane.models.auth import Role
from controlplane.models.server import DesiredState, Server
from controlplane.protocol import observed_as
from controlplane.schemas.servers import (
    DeletionRecordPublic,
    ServerAddress,
    ServerPublic,
    ServerReboot,
    ServerResize,
    ShownState,
)
from controlplane.schemas.servers import ServerCreate as ServerCreateBody
from controlplane.schemas.types import Key, Line
from controlplane.services.fleet import hosts as host_service
from controlplane.services.fleet import server_changes as change_service
from controlplane.services.fleet import servers as server_service
from controlplane.services.fleet.servers import Action
from controlplane.services.tenancy import Owned
from network.service import addresses_of

router = APIRouter(prefix="/v1/servers", tags=["servers"])

Writer = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
# Power actions a tenant may take on its own servers (Art. 16: not while fully restricted).
PowerUser = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.CUSTOMER))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.OPERATOR, Role.AUDITOR, Role.BILLING, Role.CUSTOMER))
]


def _public(session: Session, server: Server) -> ServerPublic:
    return _publics(session, [server])[0]


def _publics(session: Session, servers: list[Server]) -> list[ServerPublic]:
    names = host_service.host_names(session, {s.host_id for s in servers})
    held = addresses_of(session, [s.id for s in servers])
    return [
        server_public(
            s,
            host_name=names.get(s.host_id, ""),
            addresses=[ServerAddress(**vars(a)) for a in held.get(s.id, [])],
        )
        for s in servers
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_server(
    body: ServerCreateBody, who: Writer, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> ServerPublic:
    server = server_service.create_server(session, now=clock(), actor=who.actor, data=body, settings=settings)
    return _public(session, server)


@router.get("")
def list_servers(
    who: Reader,
    tenant: TenantDep,
    session: SessionDep,
    host: Annotated[Line | None, Query(max_length=63)] = None,
    desired_state: DesiredState | None = None,
    state: Annotated[
        ShownState | None,
        Query(description="only servers in this state as shown (`state`: paused and saved are suspended)"),
    ] = None,
    include_deleted: Annotated[bool, Query(description="also list servers whose disks are wiped")] = False,
) -> list[ServerPublic]:
    if tenant.is_customer and host is not None:
        return []  # hosts are not a tenant's to name: the filter finds none of its servers
    host_id = host_service.get_host(session, host).id if host is not None else None
    servers = server_service.list_servers(
        session,
        host_id=host_id,
        # Asking for deleted servers by their state is asking to see them.
        include_deleted=include_deleted or state == DesiredState.DELETED,
        desired_state=desired_state,
        observed_states=observed_as(state) if state is not None else None,
        customer_id=tenant.customer_id,
    )
    return _publics(session, list(servers))


@router.get("/{server_id}")
def get_server(server_id: Key, _who: Reader, tenant: TenantDep, session: SessionDep) -> ServerPublic:
    tenant.owns(Owned.SERVER, server_id, field="server_id")
    return _public(session, server_service.get_server(session, server_id))


def _act(session: Session, who: Principal, clock: ClockDep, server_id: str, action: Action) -> ServerPublic:
    server = server_service.change_desired_state(
        session,
        now=clock(),
        actor=who.actor,
        server_id=server_id,
        action=action,
        by_tenant=who.role is Role.CUSTOMER,
    )
    return _public(session, server)


@router.post("/{server_id}/start")
def start_server(
    server_id: Key, who: PowerUser, tenant: TenantDep, session: SessionDep, clock: ClockDep
) -> ServerPublic:
    tenant.owns(Owned.SERVER, server_id, field="server_id")
    return _act(session, who, clock, server_id, "start")


@router.post("/{server_id}/stop")
def stop_server(
    server_id: Key, who: PowerUser, tenant: TenantDep, session: SessionDep, clock: ClockDep
) -> ServerPublic:
    tenant.owns(Owned.SERVER, server_id, field="server_id")
    return _act(session, who, clock, server_id, "stop")


@router.post("/{server_id}/suspend")
def suspend_server(server_id: Key, who: Writer, session: SessionDep, clock: ClockDep) -> ServerPublic:
    return _act(session, who, clock, server_id, "suspend")


@router.post("/{server_id}/resume")
def resume_server(server_id: Key, who: Writer, session: SessionDep, clock: ClockDep) -> ServerPublic:
    return _act(session, who, clock, server_id, "resume")


@router.delete("/{server_id}", status_code=status.HTTP_202_ACCEPTED)
def delete_server(server_id: Key, who: Writer, session: SessionDep, clock: ClockDep) -> ServerPublic:
    """Accepted: the agent destroys, wipes and reports; the row stays with its deletion record."""
    return _act(session, who, clock, server_id, "delete")


@router.get("/{server_id}/deletion-record")
def get_deletion_record(
    server_id: Key, _who: Reader, tenant: TenantDep, session: SessionDep
) -> DeletionRecordPublic:
    tenant.owns(Owned.SERVER, server_id, field="server_id")
    record = server_service.get_deletion_record(session, server_id)
    names = host_service.host_names(session, {record.host_id})
    return deletion_record_public(record, host_name=names.get(record.host_id, ""))


@router.post("/{server_id}/reboot")
def reboot_server(
    server_id: Key,
    who: PowerUser,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
    body: ServerReboot | None = None,
) -> ServerPublic:
    """Ordered through the desired state: soft asks the guest (ACPI / guest agent), hard resets it."""
    tenant.owns(Owned.SERVER, server_id, field="server_id")
    hard = body.hard if body is not None else False
    server = change_service.reboot_server(
        session,
        now=clock(),
        actor=who.actor,
        server_id=server_id,
        hard=hard,
        by_tenant=who.role is Role.CUSTOMER,
    )
    return _public(session, server)


@router.post("/{server_id}/resize")
def resize_server(
    server_id: Key, body: ServerResize, who: Writer, session: SessionDep, clock: ClockDep
) -> ServerPublic:
    """The disk grows online (never shrinks: 409); vCPUs and memory apply at the next boot."""
    server = change_service.resize_server(
        session, now=clock(), actor=who.actor, server_id=server_id, data=body
    )
    return _public(session, server)
