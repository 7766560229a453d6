"""Servers: creation with placement, and desired-state changes guarded by compare-and-swap."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlmodel import Session, col, select

from controlplane.config import Settings
from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.customer import Contract, ContractState
from controlplane.models.server import DeletionRecord, DesiredState, ObservedState, Server
from controlplane.schemas.servers import ServerCreate
from controlplane.services.audit import record_change
from controlplane.services.fleet.images import usable_image
from controlplane.services.fleet.placement import Demand, place_anywhere, place_on_named_host
from controlplane.services.fleet.server_guards import check_action_allowed
from controlplane.services.tenancy import contracts_of
from network.service import allocate_server_address, named_pool

Action = Literal["start", "stop", "suspend", "resume", "delete"]

# action -> (states it may start from, the desired state it sets). A server already in the target
# state is left alone (idempotent, no audit row); any other state is a 409 naming the current one.
TRANSITIONS: dict[str, tuple[frozenset[str], DesiredState]] = {
    "start": (frozenset({DesiredState.STOPPED}), DesiredState.RUNNING),
    "stop": (frozenset({DesiredState.RUNNING, DesiredState.SUSPENDED}), DesiredState.STOPPED),
    "suspend": (frozenset({DesiredState.RUNNING}), DesiredState.SUSPENDED),
    "resume": (frozenset({DesiredState.SUSPENDED}), DesiredState.RUNNING),
    "delete": (
        frozenset({DesiredState.RUNNING, DesiredState.STOPPED, DesiredState.SUSPENDED}),
        DesiredState.DELETED,
    ),
}
_CAS_ATTEMPTS = 5


def server_snapshot(server: Server) -> dict[str, object]:
    return {
        "name": server.name,
        "host_id": server.host_id,
        "vcpus": server.vcpus,
        "memory_mib": server.memory_mib,
        "disk_gib": server.disk_gib,
        "desired_state": server.desired_state,
        "generation": server.generation,
        "image_id": server.image_id,
        "hostname": server.hostname,
    }


def _check_boot_source(session: Session, data: ServerCreate) -> None:
    """An image must be usable and fit the disk; first-boot settings need an image to act on."""
    if data.image_id is None:
        for name in ("hostname", "ssh_authorized_keys", "password_hash"):
            if getattr(data, name):
                raise InvalidInput("first-boot settings need an image_id to boot from", field=name)
        return
    image = usable_image(session, data.image_id)
    if image.min_disk_gib is not None and data.disk_gib < image.min_disk_gib:
        raise InvalidInput(
            f"disk_gib {data.disk_gib} is smaller than image {image.id}'s minimum "
            f"of {image.min_disk_gib} GiB",
            field="disk_gib",
        )


def create_server(
    session: Session, *, now: datetime, actor: str, data: ServerCreate, settings: Settings
) -> Server:
    contract = session.get(Contract, data.contract_id) if data.contract_id is not None else None
    if data.contract_id is not None and contract is None:
        raise InvalidInput(f"contract_id {data.contract_id} does not exist", field="contract_id")
    if contract is not None and contract.state in (ContractState.APPLIED, ContractState.HELD):
        # Art. 9(1): service starts when the contract is approved; an application runs nothing yet.
        raise InvalidInput(
            f"contract {contract.id} is still {contract.state}; approve it first", field="contract_id"
        )
    _check_boot_source(session, data)
    demand = Demand(vcpus=data.vcpus, memory_mib=data.memory_mib, disk_gib=data.disk_gib)
    # A named pool bound to some hosts narrows placement to them (checked again when leasing).
    served = named_pool(session, data.pool).host_names if data.pool is not None else []
    if data.host is not None:
        host = place_on_named_host(session, name=data.host, demand=demand, now=now)
    else:
        host = place_anywhere(session, demand=demand, now=now, settings=settings, only=served or None)
    server = Server(
        name=data.name,
        host_id=host.id or 0,
        contract_id=data.contract_id,
        vcpus=data.vcpus,
        memory_mib=data.memory_mib,
        disk_gib=data.disk_gib,
        desired_state=DesiredState.RUNNING,
        image_id=data.image_id,
        ssh_authorized_keys=list(data.ssh_authorized_keys),
        password_hash=data.password_hash,
        domain_type=data.domain_type,
        created_at=now,
        updated_at=now,
    )
    session.add(server)
    session.flush()
    if data.image_id is not None:
        # A valid DNS label the guest can always take, when the operator names none.
        server.hostname = data.hostname or f"srv-{server.id[:12]}"
    # Art. 24(1): one address per server, leased in the same transaction (a full pool refuses the server).
    lease = allocate_server_address(session, server=server, at=now, pool_name=data.pool)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="server",
        entity_id=server.id,
        action="create",
        after={**server_snapshot(server), "address": lease.address if lease else None},
    )
    session.commit()
    return server


def get_server(session: Session, server_id: str) -> Server:
    server = session.get(Server, server_id)
    if server is None:
        raise NotFound(f"no server {server_id!r}", field="server_id")
    return server


def list_servers(
    session: Session,
    *,
    host_id: int | None = None,
    include_deleted: bool = True,
    customer_id: int | None = None,
    desired_state: DesiredState | None = None,
    observed_states: Collection[ObservedState] | None = None,
) -> list[Server]:
    """Servers, oldest first; `customer_id` keeps a tenant's own (those of its contracts)."""
    query = select(Server)
    if customer_id is not None:
        query = query.where(col(Server.contract_id).in_(contracts_of(customer_id)))
    if host_id is not None:
        query = query.where(Server.host_id == host_id)
    if desired_state is not None:
        query = query.where(Server.desired_state == desired_state.value)
    if observed_states is not None:
        query = query.where(col(Server.observed_state).in_([state.value for state in observed_states]))
    if not include_deleted:
        query = query.where(col(Server.deleted_at).is_(None))
    return list(session.exec(query.order_by(col(Server.created_at), col(Server.id))).all())


def change_desired_state(
    session: Session,
    *,
    now: datetime,
    actor: str,
    server_id: str,
    action: Action,
    clause: str | None = None,
    by_tenant: bool = False,
) -> Server:
    """Applies an action; a concurrent change is detected by `generation` and the action re-judged.
    `by_tenant`: the customer itself asks, which a full restriction refuses for every action."""
    allowed_from, target = TRANSITIONS[action]
    for _ in range(_CAS_ATTEMPTS):
        server = get_server(session, server_id)
        if server.desired_state == target:
            return server
        if by_tenant:  # a restricted customer hears the restriction (and its clause) first
            check_action_allowed(session, server, action, now, by_tenant=True)
        if server.desired_state not in allowed_from:
            raise Conflict(
                f"cannot {action} server {server_id}: its desired state is {server.desired_state!r}"
            )
        check_action_allowed(session, server, action, now, by_tenant=by_tenant)
        before = server_snapshot(server)
        if _swap(session, server=server, target=target, now=now):
            session.refresh(server)
            record_change(
                session,
                at=now,
                actor=actor,
                entity_type="server",
                entity_id=server_id,
                action=action,
                before=before,
                after=server_snapshot(server),
                clause=clause,
            )
            session.commit()
            return server
        session.rollback()  # someone else moved it first: re-read and judge again
    raise Conflict(f"server {server_id} is changing too often concurrently; retry")


def _swap(session: Session, *, server: Server, target: DesiredState, now: datetime) -> bool:
    result = session.exec(
        update(Server)
        .where(col(Server.id) == server.id, col(Server.generation) == server.generation)
        # An explicit order supersedes a restriction's suspension: lifting the block won't undo it.
        .values(
            desired_state=target.value,
            generation=server.generation + 1,
            updated_at=now,
            suspended_by_restriction=False,
        )
    )
    return result.rowcount == 1


def get_deletion_record(session: Session, server_id: str) -> DeletionRecord:
    get_server(session, server_id)
    record = session.exec(select(DeletionRecord).where(DeletionRecord.server_id == server_id)).first()
    if record is None:
        raise NotFound(f"server {server_id} has no deletion record yet (its disks are not reported wiped)")
    return record
