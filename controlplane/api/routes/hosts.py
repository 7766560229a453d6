"""/v1/hosts: register, list, get, maintenance, orphans (operators; auditors read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, SettingsDep, require_roles
from controlplane.api.presenters import host_public, orphan_public
from controlplane.models.auth import Role
from controlplane.schemas.hosts import HostCreate, HostPublic, HostUpdate, OrphanPublic
from controlplane.schemas.types import Key
from controlplane.services.fleet import hosts as host_service

router = APIRouter(prefix="/v1/hosts", tags=["hosts"])

Writer = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.AUDITOR))]


@router.post("", status_code=status.HTTP_201_CREATED)
def register_host(
    body: HostCreate, who: Writer, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> HostPublic:
    now = clock()
    host = host_service.register_host(session, now=now, actor=who.actor, data=body)
    return host_public(host, now=now, settings=settings, used=None)


@router.get("")
def list_hosts(_who: Reader, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> list[HostPublic]:
    now = clock()
    usage = host_service.usage_by_host(session)
    return [
        host_public(h, now=now, settings=settings, used=usage.get(h.id or 0))
        for h in host_service.list_hosts(session)
    ]


@router.get("/{host}")
def get_host(
    host: Key, _who: Reader, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> HostPublic:
    row = host_service.get_host(session, host)
    used = host_service.usage_by_host(session, [row.id or 0]).get(row.id or 0)
    return host_public(row, now=clock(), settings=settings, used=used)


@router.patch("/{host}")
def update_host(
    host: Key, body: HostUpdate, who: Writer, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> HostPublic:
    now = clock()
    row = host_service.update_host(session, now=now, actor=who.actor, name=host, changes=body.model_dump())
    used = host_service.usage_by_host(session, [row.id or 0]).get(row.id or 0)
    return host_public(row, now=now, settings=settings, used=used)


@router.get("/{host}/orphans")
def list_orphans(host: Key, _who: Reader, session: SessionDep) -> list[OrphanPublic]:
    row = host_service.get_host(session, host)
    return [orphan_public(o) for o in host_service.list_orphans(session, row)]
