"""Address pools: creation (no overlaps), listing, and utilisation (size, assigned, quarantined, free)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models import Host
from network import ipam
from network.models import AddressLease, AddressPool, FreeAddress
from network.policy import quarantine_days

# Serialises pool creation on PostgreSQL so two overlapping pools cannot both pass the check;
# allocations never take this lock (they lock only their own pool row).
_POOL_CREATE_LOCK_KEY = 0x6463_6C6F_7564_0001


@dataclass(frozen=True)
class PoolSpec:
    name: str
    cidr: str
    network_name: str
    gateway: str | None = None
    reserved: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()
    description: str | None = None
    dns_servers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Utilisation:
    pool_id: int
    size: int
    assigned: int
    quarantined: int
    free: int


def shape_of(pool: AddressPool) -> ipam.PoolShape:
    return ipam.shape_pool(pool.cidr, pool.gateway, list(pool.reserved))


def create_pool(session: Session, *, spec: PoolSpec, at: datetime) -> AddressPool:
    """A new pool; 409 when its range overlaps an existing pool or its name is taken."""
    shape = ipam.shape_pool(spec.cidr, spec.gateway, list(spec.reserved))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _POOL_CREATE_LOCK_KEY})
    existing = session.exec(select(AddressPool)).all()
    clash = ipam.overlapping(shape.network, [p.cidr for p in existing])
    if clash is not None:
        raise Conflict(f"{shape.network} overlaps the existing pool {clash}", field="cidr")
    if any(p.name == spec.name for p in existing):
        raise Conflict(f"a pool named {spec.name!r} already exists", field="name")
    _check_network_on_hosts(session, spec)
    pool = AddressPool(
        name=spec.name,
        cidr=str(shape.network),
        ip_version=shape.version,
        gateway=str(shape.gateway) if shape.gateway else None,
        reserved=[str(shape.address_at(o)) for o in sorted(shape.reserved_offsets)],
        network_name=spec.network_name,
        host_names=list(spec.host_names),
        description=spec.description,
        dns_servers=[str(ipam.parse_address(a, field="dns_servers")) for a in spec.dns_servers],
        created_at=at,
    )
    session.add(pool)
    session.flush()
    return pool


def _check_network_on_hosts(session: Session, spec: PoolSpec) -> None:
    """The pool's libvirt network must exist on the hosts it serves, as their agents last reported.

    A host whose agent has not reported its networks yet is not held against the pool (it is checked
    when it does: the agent then fails to attach and says so); one that reported them without this
    network is a typo or a host not set up yet, and refused here rather than at the first server."""
    query = select(Host)
    if spec.host_names:
        query = query.where(col(Host.name).in_(spec.host_names))
    lacking = sorted(
        h.name for h in session.exec(query).all() if h.networks and spec.network_name not in h.networks
    )
    if lacking:
        raise InvalidInput(
            f"libvirt network {spec.network_name!r} is not on host(s) {', '.join(lacking)} "
            f"(as their agents report)",
            field="network_name",
        )


def register_pool(session: Session, *, spec: PoolSpec, at: datetime) -> AddressPool:
    """`create_pool` as a use case of its own (the API's and the CLI's): committed."""
    pool = create_pool(session, spec=spec, at=at)
    session.commit()
    return pool


def update_pool(
    session: Session,
    *,
    pool_id: int,
    enabled: bool | None = None,
    description: str | None = None,
    host_names: list[str] | None = None,
) -> AddressPool:
    """What an operator may fix on a pool without touching a lent address: enable/disable, description,
    the hosts it serves (checked against their networks). Committed."""
    pool = get_pool(session, pool_id)
    if host_names is not None:
        spec = PoolSpec(
            name=pool.name, cidr=pool.cidr, network_name=pool.network_name, host_names=tuple(host_names)
        )
        _check_network_on_hosts(session, spec)
        pool.host_names = list(host_names)
    if enabled is not None:
        pool.enabled = enabled
    if description is not None:
        pool.description = description
    session.add(pool)
    session.commit()
    return pool


def delete_pool(session: Session, *, pool_id: int) -> None:
    """Only a pool that never lent an address: leases are the address history (Art. 24), kept for good."""
    pool = get_pool(session, pool_id)
    ever = session.exec(
        select(func.count()).select_from(AddressLease).where(AddressLease.pool_id == pool_id)
    ).one()
    if ever:
        raise Conflict(
            f"pool {pool.name} has lent {ever} address(es); their history is kept, so disable it instead",
            field="pool_id",
        )
    for entry in session.exec(select(FreeAddress).where(FreeAddress.pool_id == pool_id)).all():
        session.delete(entry)
    session.delete(pool)
    session.commit()


def list_pools(session: Session) -> list[AddressPool]:
    return list(session.exec(select(AddressPool).order_by(col(AddressPool.id))).all())


def get_pool(session: Session, pool_id: int) -> AddressPool:
    pool = session.get(AddressPool, pool_id)
    if pool is None:
        raise NotFound(f"no pool with id {pool_id}", field="pool_id")
    return pool


def utilisation(session: Session, *, pool: AddressPool, at: datetime) -> Utilisation:
    """Counts from indexed queries: assigned leases and free-list entries still inside quarantine."""
    assert pool.id is not None
    assigned = session.exec(
        select(func.count())
        .select_from(AddressLease)
        .where(AddressLease.pool_id == pool.id, AddressLease.released_at.is_(None))  # type: ignore[union-attr]
    ).one()
    cutoff = at - timedelta(days=quarantine_days(at))
    quarantined = session.exec(
        select(func.count())
        .select_from(FreeAddress)
        .where(FreeAddress.pool_id == pool.id, FreeAddress.released_at > cutoff)
    ).one()
    size = shape_of(pool).size
    return Utilisation(
        pool_id=pool.id,
        size=size,
        assigned=int(assigned),
        quarantined=int(quarantined),
        free=size - int(assigned) - int(quarantined),
    )
