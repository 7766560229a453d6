"""/v1/servers: create (placed), list, get, lifecycle actions, delete, deletion record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlmodel import Session

from controlplane.api.deps import ClockDep, Principal, SessionDep, SettingsDep, require_roles
from controlplane.api.presenters import deletion_record_public, server_public
from controlplane.models.auth import Role
from controlplane.models.server import Server
from controlplane.schemas.servers import DeletionRecordPublic, ServerPublic, ServerReboot, ServerResize
from controlplane.schemas.servers import ServerCreate as ServerCreateBody
from controlplane.schemas.types import Key, Line
from controlplane.services.fleet import hosts as host_service
from controlplane.services.fleet import server_changes as change_service
from controlplane.services.fleet import servers as server_service
from controlplane.services.fleet.servers import Action

router = APIRouter(prefix="/v1/servers", tags=["servers"])

Writer = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.AUDITOR, Role.BILLING))]


def _public(session: Session, server: Server) -> ServerPublic:
    return _publics(session, [server])[0]


def _publics(session: Session, servers: list[Server]) -> list[ServerPublic]:
    names = host_service.host_names(session, {s.host_id for s in servers})
    return [server_public(s, host_name=names.get(s.host_id, "")) for s in servers]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_server(
    body: ServerCreateBody, who: Writer, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> ServerPublic:
    server = server_service.create_server(session, now=clock(), actor=who.actor, data=body, settings=settings)
    return _public(session, server)


@router.get("")
def list_servers(
    _who: Reader,
    session: SessionDep,
    host: Annotated[Line | None, Query(max_length=63)] = None,
    include_deleted: bool = True,
) -> list[ServerPublic]:
    host_id = host_service.get_host(session, host).id if host is not None else None
    servers = server_service.list_servers(session, host_id=host_id, include_deleted=include_deleted)
    return _publics(session, list(servers))


@router.get("/{server_id}")
def get_server(server_id: Key, _who: Reader, session: SessionDep) -> ServerPublic:
    return _public(session, server_service.get_server(session, server_id))


def _act(session: Session, who: Principal, clock: ClockDep, server_id: str, action: Action) -> ServerPublic:
    server = server_service.change_desired_state(
        session, now=clock(), actor=who.actor, server_id=server_id, action=action
    )
    return _public(session, server)


@router.post("/{server_id}/start")
def start_server(server_id: Key, who: Writer, session: SessionDep, clock: ClockDep) -> ServerPublic:
    return _act(session, who, clock, server_id, "start")


@router.post("/{server_id}/stop")
def stop_server(server_id: Key, who: Writer, session: SessionDep, clock: ClockDep) -> ServerPublic:
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
def get_deletion_record(server_id: Key, _who: Reader, session: SessionDep) -> DeletionRecordPublic:
    record = server_service.get_deletion_record(session, server_id)
    names = host_service.host_names(session, {record.host_id})
    return deletion_record_public(record, host_name=names.get(record.host_id, ""))


@router.post("/{server_id}/reboot")
def reboot_server(
    server_id: Key, who: Writer, session: SessionDep, clock: ClockDep, body: ServerReboot | None = None
) -> ServerPublic:
    """Ordered through the desired state: soft asks the guest (ACPI / guest agent), hard resets it."""
    hard = body.hard if body is not None else False
    server = change_service.reboot_server(
        session, now=clock(), actor=who.actor, server_id=server_id, hard=hard
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
