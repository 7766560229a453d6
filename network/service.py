"""Leasing addresses to servers (Art. 24(1),(2)): allocate, release into quarantine, attachments for agents.

Each allocation locks only its own pool row (an UPDATE, which PostgreSQL row-locks and SQLite turns
into the write lock), takes the next never-used offset from the pool's cursor, or else the free-list
entry released longest ago and past quarantine, and inserts the lease. The partial unique index on
active addresses is the last word: the insert is ON CONFLICT DO NOTHING on it, and a conflict is
retried with the next candidate (no savepoint round trips). Each lease also draws a random MAC; one
already in the store is redrawn, and the unique index on `address_leases.mac` refuses a repeat outright.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NoCapacity, NotFound
from controlplane.models import Contract, Host, Server
from controlplane.protocol import NetworkAttachment
from network import ipam
from network.models import AddressLease, AddressPool, FreeAddress
from network.policy import pinned_quarantine_days, shortest_quarantine_days, uniform_quarantine_days
from network.pools import shape_of

Lease = AddressLease

# Conflicts on the unique index can only come from leases made outside the pool cursor; a few
# retries step past them without looping forever on a corrupted pool.
_MAX_CONFLICT_RETRIES = 16
# 46 random bits make a repeat rare; a few fresh draws step past one without looping on a broken source.
_MAX_MAC_DRAWS = 8


class PoolExhausted(NoCapacity):
    """Every address of the server's pools is assigned or still in quarantine (409)."""


class ExtraAddressNotAgreed(Conflict):
    """A further address without (or beyond) the contract's agreement (Art. 24(1)) (409)."""


@dataclass(frozen=True)
class Holder:
    server_id: str
    contract_id: int | None
    customer_id: int | None
    kind: str = "primary"


def holder_of(session: Session, server: Server, kind: str = "primary") -> Holder:
    contract = session.get(Contract, server.contract_id) if server.contract_id is not None else None
    customer_id = contract.customer_id if contract is not None else None
    return Holder(server_id=server.id, contract_id=server.contract_id, customer_id=customer_id, kind=kind)


def candidate_pools(session: Session, host_name: str | None) -> list[AddressPool]:
    """Pools bound to the host first, then pools for every host; IPv4 before IPv6; oldest first."""
    pools = session.exec(
        select(AddressPool).where(col(AddressPool.enabled)).order_by(col(AddressPool.id))
    ).all()
    bound = [p for p in pools if host_name is not None and host_name in p.host_names]
    shared = [p for p in pools if not p.host_names]
    return sorted(bound, key=lambda p: p.ip_version) + sorted(shared, key=lambda p: p.ip_version)


def _lock_pool(session: Session, pool_id: int) -> AddressPool:
    """Row-locks the pool (PostgreSQL) / takes the write lock (SQLite) and reads it, in one round trip."""
    stmt = (
        update(AddressPool)
        .where(col(AddressPool.id) == pool_id)
        .values(lease_count=AddressPool.lease_count)
        .returning(AddressPool)
    )
    return session.execute(stmt, execution_options={"populate_existing": True}).scalar_one()


def _insert_lease(session: Session, values: dict[str, object]) -> AddressLease | None:
    """INSERT ... ON CONFLICT DO NOTHING on the active-address index: None when someone holds it."""
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        dialect_insert(AddressLease)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["address"], index_where=text("released_at IS NULL"))
        .returning(AddressLease)
    )
    return session.execute(stmt, execution_options={"populate_existing": True}).scalars().first()


def _take_never_used(pool: AddressPool) -> int | None:
    shape = shape_of(pool)
    offset, total = pool.next_offset, int(shape.network.size)
    while offset < total and offset in shape.reserved_offsets:
        offset += 1
    if offset >= total:
        pool.next_offset = total
        return None
    pool.next_offset = offset + 1
    return offset


# Candidates past the shortest quarantine looked at per allocation; with one quarantine length across
# versions (the usual case) the first one is taken.
_REUSE_CANDIDATES = 32


def _take_released(session: Session, pool: AddressPool, at: datetime) -> int | None:
    """The longest-released address whose own quarantine (its releasing contract's version) is over."""
    uniform = uniform_quarantine_days()
    entry = (
        _oldest_released_before(session, pool, at - timedelta(days=uniform))
        if uniform is not None
        else _oldest_past_pinned_quarantine(session, pool, at)
    )
    if entry is None:
        return None
    session.delete(entry)
    return entry.addr_offset


def _oldest_released_before(session: Session, pool: AddressPool, cutoff: datetime) -> FreeAddress | None:
    """Every version agrees on the quarantine (the usual case): one indexed look-up, no join."""
    return session.exec(
        select(FreeAddress)
        .where(FreeAddress.pool_id == pool.id, FreeAddress.released_at <= cutoff)
        .order_by(col(FreeAddress.released_at), col(FreeAddress.addr_offset))
        .limit(1)
    ).first()


def _oldest_past_pinned_quarantine(session: Session, pool: AddressPool, at: datetime) -> FreeAddress | None:
    """Versions differ: each candidate past the shortest quarantine is checked against its own."""
    cutoff = at - timedelta(days=shortest_quarantine_days())
    rows = session.exec(
        select(FreeAddress, Contract.terms_version)
        .join(
            AddressLease,
            (col(AddressLease.pool_id) == FreeAddress.pool_id)
            & (col(AddressLease.addr_offset) == FreeAddress.addr_offset)
            & (col(AddressLease.released_at) == FreeAddress.released_at),
            isouter=True,
        )
        .join(Contract, col(Contract.id) == col(AddressLease.contract_id), isouter=True)
        .where(FreeAddress.pool_id == pool.id, FreeAddress.released_at <= cutoff)
        .order_by(col(FreeAddress.released_at), col(FreeAddress.addr_offset))
        .limit(_REUSE_CANDIDATES)
    ).all()
    return next(
        (
            entry
            for entry, version in rows
            if entry.released_at <= at - timedelta(days=pinned_quarantine_days(version, at))
        ),
        None,
    )


def _mac_taken(session: Session, mac: str) -> bool:
    return session.exec(select(AddressLease.id).where(AddressLease.mac == mac)).first() is not None


def unused_mac(session: Session, draw: Callable[[], str] = ipam.random_mac) -> str:
    """A MAC no lease has ever had; the unique index on `address_leases.mac` is the last word."""
    for _ in range(_MAX_MAC_DRAWS):
        mac = draw().lower()
        if not _mac_taken(session, mac):
            return mac
    raise Conflict(f"{_MAX_MAC_DRAWS} MAC draws all collided with existing leases; check the MAC source")


def allocate_in_pool(
    session: Session,
    *,
    pool_id: int,
    holder: Holder,
    at: datetime,
    draw_mac: Callable[[], str] = ipam.random_mac,
) -> AddressLease | None:
    """One lease from one pool under its row lock; None when the pool has nothing to give."""
    pool = _lock_pool(session, pool_id)
    shape = shape_of(pool)
    for _ in range(_MAX_CONFLICT_RETRIES):
        offset = _take_never_used(pool)
        if offset is None:
            offset = _take_released(session, pool, at)
        if offset is None:
            return None
        values = {
            "pool_id": pool_id,
            "address": str(shape.address_at(offset)),
            "addr_offset": offset,
            "mac": unused_mac(session, draw_mac),
            "kind": holder.kind,
            "server_id": holder.server_id,
            "contract_id": holder.contract_id,
            "customer_id": holder.customer_id,
            "leased_at": at,
        }
        lease = _insert_lease(session, values)
        if lease is None:
            continue  # an active holder exists outside the cursor's view: try the next candidate
        pool.lease_count += 1
        session.add(pool)
        return lease
    raise Conflict(f"pool {pool.name} keeps colliding with active leases; check for leases made by hand")


def named_pool(session: Session, name: str, *, field: str = "pool") -> AddressPool:
    pool = session.exec(select(AddressPool).where(AddressPool.name == name)).first()
    if pool is None:
        raise InvalidInput(f"no address pool named {name!r}", field=field)
    if not pool.enabled:
        raise InvalidInput(f"address pool {name!r} is disabled", field=field)
    return pool


def _allocate(
    session: Session, *, server: Server, holder: Holder, at: datetime, pool_name: str | None = None
) -> AddressLease | None:
    host = session.get(Host, server.host_id)
    host_name = host.name if host else None
    if pool_name is not None:
        chosen = named_pool(session, pool_name)
        if chosen.host_names and host_name not in chosen.host_names:
            raise InvalidInput(f"pool {pool_name!r} does not serve host {host_name!r}", field="pool")
        pools = [chosen]
    else:
        pools = candidate_pools(session, host_name)
    if not pools:
        return None
    for pool in pools:
        assert pool.id is not None
        lease = allocate_in_pool(session, pool_id=pool.id, holder=holder, at=at)
        if lease is not None:
            return lease
    names = ", ".join(p.name for p in pools)
    raise PoolExhausted(f"no free address in pool(s) {names}: all assigned or in quarantine")


def active_leases(session: Session, server_id: str) -> list[AddressLease]:
    return list(
        session.exec(
            select(AddressLease)
            .where(AddressLease.server_id == server_id, col(AddressLease.released_at).is_(None))
            .order_by(col(AddressLease.id))
        ).all()
    )


def allocate_server_address(
    session: Session, *, server: Server, at: datetime, pool_name: str | None = None
) -> AddressLease | None:
    """The one address every server gets on creation (Art. 24(1)); idempotent; None if no pool applies.

    `pool_name` picks the pool (it must serve the server's host); otherwise the host's pools come first."""
    for lease in active_leases(session, server.id):
        if lease.kind == "primary":
            return lease
    holder = holder_of(session, server)
    return _allocate(session, server=server, holder=holder, at=at, pool_name=pool_name)


@dataclass(frozen=True)
class HeldAddress:
    address: str
    pool: str
    kind: str
    network: str
    mac: str


def addresses_of(session: Session, server_ids: list[str]) -> dict[str, list[HeldAddress]]:
    """Each server's active addresses (primary first), in one query: what `GET /v1/servers` shows."""
    held: dict[str, list[HeldAddress]] = {sid: [] for sid in server_ids}
    if not server_ids:
        return held
    rows = session.exec(
        select(AddressLease, AddressPool)
        .join(AddressPool, col(AddressPool.id) == AddressLease.pool_id)
        .where(col(AddressLease.server_id).in_(server_ids), col(AddressLease.released_at).is_(None))
        .order_by(col(AddressLease.kind).desc(), col(AddressLease.id))
    ).all()
    for lease, pool in rows:
        held[lease.server_id].append(
            HeldAddress(lease.address, pool.name, lease.kind, pool.network_name, lease.mac)
        )
    return held


def allocate_extra_address(
    session: Session, *, server: Server, contract: Contract, at: datetime
) -> AddressLease | None:
    """A further address, only within the contract's recorded agreement (Art. 24(1))."""
    if server.contract_id != contract.id:
        raise InvalidInput(f"server {server.id} does not belong to contract {contract.id}", field="server_id")
    if contract.extra_addresses_allowed <= 0 or not contract.extra_addresses_approved_by:
        raise ExtraAddressNotAgreed(
            f"contract {contract.id} has no agreement for extra addresses (Art. 24(1))", field="contract"
        )
    # Lock the contract so two concurrent requests cannot both take the last agreed address.
    session.exec(select(Contract).where(Contract.id == contract.id).with_for_update()).one()
    in_use = session.exec(
        select(AddressLease).where(
            AddressLease.contract_id == contract.id,
            AddressLease.kind == "extra",
            col(AddressLease.released_at).is_(None),
        )
    ).all()
    if len(in_use) >= contract.extra_addresses_allowed:
        raise ExtraAddressNotAgreed(
            f"contract {contract.id} already uses its {contract.extra_addresses_allowed} agreed extra "
            f"address(es) (approved by {contract.extra_addresses_approved_by}; Art. 24(1))",
            field="contract",
        )
    return _allocate(session, server=server, holder=holder_of(session, server, kind="extra"), at=at)


def add_extra_address(session: Session, *, server_id: str, at: datetime) -> AddressLease:
    """`allocate_extra_address` for a server named by id (the API's use case, committed): it must exist,
    be under a contract and have a pool serving its host."""
    server = session.get(Server, server_id)
    if server is None:
        raise NotFound(f"no server {server_id}", field="server_id")
    contract = session.get(Contract, server.contract_id) if server.contract_id is not None else None
    if contract is None:
        raise InvalidInput("extra addresses need a server under a contract (Art. 24(1))", field="server_id")
    lease = allocate_extra_address(session, server=server, contract=contract, at=at)
    if lease is None:
        raise NotFound(f"no address pool serves server {server_id}'s host", field="server_id")
    session.commit()
    return lease


def release_server_addresses(session: Session, *, server_id: str, at: datetime) -> list[AddressLease]:
    """Ends the server's leases (termination, Art. 20(8)); each address rests in quarantine before reuse."""
    released = []
    for lease in active_leases(session, server_id):
        # Conditional UPDATE so a concurrent release of the same lease frees the address only once.
        result = session.execute(
            update(AddressLease)
            .where(col(AddressLease.id) == lease.id, col(AddressLease.released_at).is_(None))
            .values(released_at=at)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        session.add(
            FreeAddress(
                pool_id=lease.pool_id, addr_offset=lease.addr_offset, address=lease.address, released_at=at
            )
        )
        lease.released_at = at
        released.append(lease)
    session.flush()
    return released


def attachments_for(session: Session, server_ids: list[str]) -> dict[str, list[NetworkAttachment]]:
    """For the agent's desired state: each server's interfaces (network, MAC, address); primary first."""
    result: dict[str, list[NetworkAttachment]] = {sid: [] for sid in server_ids}
    if not server_ids:
        return result
    rows = session.exec(
        select(AddressLease, AddressPool)
        .join(AddressPool, col(AddressPool.id) == AddressLease.pool_id)
        .where(col(AddressLease.server_id).in_(server_ids), col(AddressLease.released_at).is_(None))
        .order_by(col(AddressLease.kind).desc(), col(AddressLease.id))
    ).all()
    for lease, pool in rows:
        result[lease.server_id].append(
            NetworkAttachment(
                network=pool.network_name,
                mac=lease.mac,
                ip=lease.address,
                prefix=int(pool.cidr.rpartition("/")[2]),
                gateway=pool.gateway,
                dns=list(pool.dns_servers),
            )
        )
    return result


def quarantine_ended(session: Session, *, since: datetime, until: datetime) -> int:
    """Released addresses whose quarantine ended in (since, until]: lendable again from now on.

    Reuse itself is decided at allocation (`_take_released`, per version); this is the daily count."""
    days = timedelta(days=shortest_quarantine_days())
    query = (
        select(func.count())
        .select_from(FreeAddress)
        .where(col(FreeAddress.released_at) > since - days, col(FreeAddress.released_at) <= until - days)
    )
    return int(session.exec(query).one())
