"""Hosts: registration, maintenance, heartbeats, derived health, capacity in use, orphans."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controlplane.config import Settings
from controlplane.errors import Conflict, NotFound
from controlplane.models.host import Host, HostAdminState, HostHealth, OrphanDomain
from controlplane.models.server import Server
from controlplane.schemas.hosts import HostCreate, Usage
from controlplane.services.audit import record_change

_AUDITED = (
    "name",
    "libvirt_uri",
    "vcpus",
    "memory_mib",
    "disk_gib",
    "admin_state",
    "cpu_allocation_ratio",
    "ram_allocation_ratio",
)


def host_snapshot(host: Host) -> dict[str, object]:
    return {k: getattr(host, k) for k in _AUDITED}


def register_host(session: Session, *, now: datetime, actor: str, data: HostCreate) -> Host:
    host = Host(**data.model_dump(), admin_state=HostAdminState.ACTIVE, created_at=now)
    session.add(host)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"a host named {data.name!r} already exists", field="name") from exc
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="host",
        entity_id=host.id or 0,
        action="register",
        after=host_snapshot(host),
    )
    session.commit()
    return host


def get_host(session: Session, name: str, *, field: str = "host") -> Host:
    host = session.exec(select(Host).where(Host.name == name)).first()
    if host is None:
        raise NotFound(f"no host named {name!r}", field=field)
    return host


def host_names(session: Session, host_ids: set[int]) -> dict[int, str]:
    """Names of the given hosts in one query (an unknown id is simply absent)."""
    if not host_ids:
        return {}
    rows = session.exec(select(Host).where(col(Host.id).in_(host_ids))).all()
    return {h.id: h.name for h in rows if h.id is not None}


def bound_host(session: Session, host_id: int | None) -> Host | None:
    """The host an agent token is bound to, if it still exists."""
    return session.get(Host, host_id) if host_id is not None else None


def list_hosts(session: Session) -> list[Host]:
    return list(session.exec(select(Host).order_by(col(Host.name))).all())


def set_admin_state(session: Session, *, now: datetime, actor: str, name: str, admin_state: str) -> Host:
    return update_host(session, now=now, actor=actor, name=name, changes={"admin_state": admin_state})


def update_host(
    session: Session, *, now: datetime, actor: str, name: str, changes: dict[str, object]
) -> Host:
    """Admin state and allocation ratios; one audit row naming what changed, none when nothing did.

    Lowering a ratio below what is placed already is allowed (like Nova): it only stops new placements.
    """
    host = get_host(session, name)
    before = host_snapshot(host)
    changed = {k: v for k, v in changes.items() if v is not None and getattr(host, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(host, key, value)
        session.add(host)
        action = f"admin_state:{changed['admin_state']}" if "admin_state" in changed else "update"
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="host",
            entity_id=host.id or 0,
            action=action,
            before=before,
            after=host_snapshot(host),
        )
    session.commit()
    return host


class HypervisorClaimed(Conflict):
    """A second host row's agent reports a hypervisor that another live agent already serves (409)."""


def record_heartbeat(
    session: Session,
    *,
    now: datetime,
    host: Host,
    settings: Settings | None = None,
    libvirt_host_id: str | None = None,
    networks: list[str] | None = None,
) -> Host:
    """The host is alive; with a libvirt identity, claims that hypervisor for this host row alone.

    Two host rows on one hypervisor would count its capacity twice and let two agents fight over its
    domains, so a claim held by another host that is still heartbeating is refused; one held by a host
    whose agent went silent (the hypervisor moved, libvirtd got a new UUID) passes to this one.
    """
    # Not audited: a heartbeat changes no customer's service, and would flood the trail.
    if libvirt_host_id is not None and host.libvirt_host_id != libvirt_host_id:
        grace = settings or Settings()  # the heartbeat grace decides whether a holder is still alive
        _claim_hypervisor(session, host=host, libvirt_host_id=libvirt_host_id, now=now, settings=grace)
    host.last_heartbeat_at = now
    if networks is not None:
        host.networks = sorted(set(networks))
    session.add(host)
    try:
        session.commit()
    except IntegrityError as exc:  # another host claimed it between our check and our write
        session.rollback()
        raise HypervisorClaimed(
            f"libvirt host {libvirt_host_id} was just claimed by another host", field="libvirt_host_id"
        ) from exc
    return host


def _claim_hypervisor(
    session: Session, *, host: Host, libvirt_host_id: str, now: datetime, settings: Settings
) -> None:
    holder = session.exec(select(Host).where(Host.libvirt_host_id == libvirt_host_id)).first()
    if holder is not None and holder.id != host.id:
        if _heartbeating(holder, now=now, settings=settings):
            raise HypervisorClaimed(
                f"libvirt host {libvirt_host_id} is already served by host {holder.name!r}, whose agent is "
                f"alive: one agent per hypervisor; stop this agent or point it at its own libvirt",
                field="libvirt_host_id",
            )
        holder.libvirt_host_id = None
        session.add(holder)
        session.flush()  # release the unique value before this host takes it
    host.libvirt_host_id = libvirt_host_id


def _heartbeating(host: Host, *, now: datetime, settings: Settings) -> bool:
    if host.last_heartbeat_at is None:
        return False
    grace = timedelta(seconds=settings.heartbeat_interval_s * settings.heartbeat_missed_limit)
    return now - host.last_heartbeat_at <= grace


def host_health(host: Host, *, now: datetime, settings: Settings) -> HostHealth:
    """`up` while heartbeats arrive; `unknown` (never `down`) after the missed-interval grace."""
    if host.admin_state == HostAdminState.MAINTENANCE:
        return HostHealth.MAINTENANCE
    return HostHealth.UP if _heartbeating(host, now=now, settings=settings) else HostHealth.UNKNOWN


def usage_by_host(session: Session, host_ids: list[int] | None = None) -> dict[int, Usage]:
    """Capacity held by servers that are not gone; a deleted-but-not-yet-wiped server still holds its disk."""
    query = (
        sa_select(
            col(Server.host_id),
            func.coalesce(func.sum(Server.vcpus), 0),
            func.coalesce(func.sum(Server.memory_mib), 0),
            func.coalesce(func.sum(Server.disk_gib), 0),
            func.count(),
        )
        .where(col(Server.deleted_at).is_(None))
        .group_by(col(Server.host_id))
    )
    if host_ids is not None:
        query = query.where(col(Server.host_id).in_(host_ids))
    usage: dict[int, Usage] = {}
    for host_id, vcpus, memory, disk, count in session.execute(query).all():
        usage[host_id] = Usage(vcpus=vcpus, memory_mib=memory, disk_gib=disk, servers=count)
    return usage


def list_orphans(session: Session, host: Host) -> list[OrphanDomain]:
    query = (
        select(OrphanDomain).where(OrphanDomain.host_id == host.id).order_by(col(OrphanDomain.domain_name))
    )
    return list(session.exec(query).all())
