"""Choosing a host for a new server without overcommitting it, even with concurrent requests.

On PostgreSQL the candidate host rows are locked (`SELECT ... FOR UPDATE`, in id order so two placements
never deadlock) before usage is summed, so a second placement waits until the first commits and then sees
its server. SQLite ignores FOR UPDATE and starts its write transaction only at the first write, so there
a no-op UPDATE takes the database write lock before usage is read (the embedded `dcloud up` store serves
API requests from a thread pool, so placements do race there too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from controlplane.config import Settings
from controlplane.errors import Conflict, InvalidInput, NoCapacity
from controlplane.models.host import Host, HostAdminState, HostHealth
from controlplane.schemas.hosts import Usage
from controlplane.services.fleet.hosts import host_health, usage_by_host
from controlplane.services.fleet.maintenance_windows import draining_windows


@dataclass(frozen=True)
class Demand:
    vcpus: int
    memory_mib: int
    disk_gib: int


def vcpu_limit(host: Host) -> int:
    """What placement may hand out: the host's CPUs times its allocation ratio (Nova's rule)."""
    return int(host.vcpus * host.cpu_allocation_ratio)


def memory_limit(host: Host) -> int:
    return int(host.memory_mib * host.ram_allocation_ratio)


def fits(host: Host, used: Usage, demand: Demand) -> bool:
    # Disk is never overcommitted: a full pool fails writes inside every guest at once.
    return (
        used.vcpus + demand.vcpus <= vcpu_limit(host)
        and used.memory_mib + demand.memory_mib <= memory_limit(host)
        and used.disk_gib + demand.disk_gib <= host.disk_gib
    )


def _load(host: Host, used: Usage) -> float:
    """The fullest dimension (of what may be handed out) decides how loaded a host is."""
    return max(
        used.vcpus / max(vcpu_limit(host), 1),
        used.memory_mib / max(memory_limit(host), 1),
        used.disk_gib / host.disk_gib,
    )


def _serialise_on_sqlite(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Host).where(col(Host.id) == -1).values(id=col(Host.id)))


def place_on_named_host(session: Session, *, name: str, demand: Demand, now: datetime) -> Host:
    _serialise_on_sqlite(session)
    host = session.exec(select(Host).where(Host.name == name).with_for_update()).first()
    if host is None:
        raise InvalidInput(f"no host named {name!r}", field="host")
    if host.admin_state == HostAdminState.MAINTENANCE:
        raise Conflict(f"host {name!r} is in maintenance and takes no new servers", field="host")
    draining = draining_windows(session, now).get(host.id or 0)
    if draining is not None:
        raise Conflict(
            f"host {name!r} is drained by maintenance window {draining} and takes no new servers",
            field="host",
        )
    used = usage_by_host(session, [host.id or 0]).get(host.id or 0, Usage())
    if not fits(host, used, demand):
        raise NoCapacity(
            f"host {name!r} has no room: free vcpus {vcpu_limit(host) - used.vcpus}, "
            f"memory_mib {memory_limit(host) - used.memory_mib}, disk_gib {host.disk_gib - used.disk_gib}",
            field="host",
        )
    return host


def place_anywhere(
    session: Session, *, demand: Demand, now: datetime, settings: Settings, only: list[str] | None = None
) -> Host:
    """The least loaded `up` host with room (among `only`, when given); NoCapacity (409) when none fits."""
    _serialise_on_sqlite(session)
    query = select(Host).where(Host.admin_state == HostAdminState.ACTIVE)
    if only:
        query = query.where(col(Host.name).in_(only))
    query = query.order_by(col(Host.id)).with_for_update()
    draining = draining_windows(session, now)  # a `drain` window: no new placements there (Art. 14(2))
    up = [h for h in session.exec(query).all() if host_health(h, now=now, settings=settings) == HostHealth.UP]
    hosts = [h for h in up if (h.id or 0) not in draining]
    usage = usage_by_host(session, [h.id or 0 for h in hosts])
    candidates = [(h, usage.get(h.id or 0, Usage())) for h in hosts]
    fitting = [(h, u) for h, u in candidates if fits(h, u, demand)]
    if not fitting:
        raise NoCapacity(
            f"no up host has room for {demand.vcpus} vcpus, {demand.memory_mib} MiB memory and "
            f"{demand.disk_gib} GiB disk ({len(hosts)} up host(s) checked"
            + (f", {len(up) - len(hosts)} drained for maintenance" if len(up) > len(hosts) else "")
            + ")"
        )
    fitting.sort(key=lambda pair: (_load(pair[0], pair[1]), pair[0].id or 0))
    return fitting[0][0]
