"""Changes to a live server besides its power state (issue 9): reboot orders and resizes.

Both reach the host the way every order does, through the desired state: a reboot bumps `reboot_seq`
(the agent carries out each sequence number once), a resize changes the sizes. Both bump `generation`
so the agent's watch wakes and the audit can tell the orders apart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from controlplane.errors import ConcurrentChange, Conflict, NoCapacity
from controlplane.models.host import Host
from controlplane.models.server import DesiredState, Server
from controlplane.schemas.hosts import Usage
from controlplane.schemas.servers import ServerResize
from controlplane.services.audit import record_change
from controlplane.services.fleet.hosts import usage_by_host
from controlplane.services.fleet.placement import Demand, fits
from controlplane.services.fleet.server_guards import check_action_allowed
from controlplane.services.fleet.servers import get_server, server_snapshot
from controlplane.terms.clauses import ART_32_2


def reboot_server(
    session: Session, *, now: datetime, actor: str, server_id: str, hard: bool, by_tenant: bool = False
) -> Server:
    """Orders one reboot of a running server (soft: ACPI / guest agent; hard: reset)."""
    server = get_server(session, server_id)
    # A customer never acts on its server while a full restriction covers it (Art. 16, 33).
    check_action_allowed(session, server, "reboot", now, by_tenant=by_tenant)
    if server.desired_state != DesiredState.RUNNING:
        raise Conflict(f"cannot reboot server {server_id}: its desired state is {server.desired_state!r}")
    before = {**server_snapshot(server), "reboot_seq": server.reboot_seq}
    _bump(session, server, now, reboot_seq=server.reboot_seq + 1, reboot_hard=hard)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="server",
        entity_id=server_id,
        action="reboot_hard" if hard else "reboot",
        before=before,
        after={**server_snapshot(server), "reboot_seq": server.reboot_seq},
    )
    session.commit()
    return server


def resize_server(
    session: Session, *, now: datetime, actor: str, server_id: str, data: ServerResize
) -> Server:
    server = get_server(session, server_id)
    before = server_snapshot(server)
    if apply_resize(session, server=server, data=data, now=now):
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="server",
            entity_id=server_id,
            action="resize",
            before=before,
            after=server_snapshot(server),
        )
    session.commit()
    return server


def contract_servers(session: Session, contract_id: int) -> list[Server]:
    """The contract's live servers (not deleted, not ordered deleted), in id order."""
    query = select(Server).where(
        Server.contract_id == contract_id,
        col(Server.deleted_at).is_(None),
        Server.desired_state != DesiredState.DELETED,
    )
    return list(session.exec(query.order_by(col(Server.id))).all())


def check_contract_resize(
    session: Session, *, contract_id: int, size: ServerResize, base: ServerResize | None = None
) -> None:
    """Refuses `size` as `resize_contract_servers` would (disk shrink, no room), writing nothing; `base`
    is the size an earlier change still waiting will have given the servers by then."""
    for server in contract_servers(session, contract_id):
        check_resize(session, server=server, data=size, base=base)


def resize_contract_servers(
    session: Session, *, now: datetime, actor: str, contract_id: int, size: ServerResize
) -> list[Server]:
    """A plan change's size reaching each live server of the contract (no commit: the plan change's)."""
    changed = []
    for server in contract_servers(session, contract_id):
        if resize_for_plan(session, server=server, size=size, now=now, actor=actor):
            changed.append(server)
    return changed


def resize_for_plan(
    session: Session, *, server: Server, size: ServerResize, now: datetime, actor: str
) -> bool:
    """One server to a plan change's size, audited under the plan-change clause; no commit."""
    before = server_snapshot(server)
    if not apply_resize(session, server=server, data=size, now=now):
        return False
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="server",
        entity_id=server.id,
        action="resize",
        clause=str(ART_32_2),
        before=before,
        after=server_snapshot(server),
    )
    return True


def apply_resize(session: Session, *, server: Server, data: ServerResize, now: datetime) -> bool:
    """Checks and applies new sizes without committing; False when nothing changes."""
    demand = check_resize(session, server=server, data=data)
    if demand is None:
        return False
    _bump(session, server, now, vcpus=demand.vcpus, memory_mib=demand.memory_mib, disk_gib=demand.disk_gib)
    return True


def check_resize(
    session: Session, *, server: Server, data: ServerResize, base: ServerResize | None = None
) -> Demand | None:
    """The new sizes if they are allowed, None when nothing changes; writes nothing.

    A disk never shrinks (409: the guest's filesystem would be cut); growth must fit the host. `base`
    (its fields over the server's) is the size the server will have when `data` applies: a field `data`
    leaves out keeps the base's, and the disk must not shrink from it either.
    """
    if server.deleted_at is not None or server.desired_state == DesiredState.DELETED:
        raise Conflict(f"cannot resize server {server.id}: it is deleted")
    base = base or ServerResize()
    vcpus = data.vcpus or base.vcpus or server.vcpus
    memory = data.memory_mib or base.memory_mib or server.memory_mib
    disk = data.disk_gib or base.disk_gib or server.disk_gib
    if disk < server.disk_gib:
        raise Conflict(
            f"disk_gib {disk} is smaller than the server's {server.disk_gib} GiB: disks never shrink",
            field="disk_gib",
        )
    if base.disk_gib is not None and disk < base.disk_gib:
        raise Conflict(
            f"disk_gib {disk} is smaller than the {base.disk_gib} GiB the plan change before it gives "
            f"server {server.id}: disks never shrink",
            field="disk_gib",
        )
    if (vcpus, memory, disk) == (server.vcpus, server.memory_mib, server.disk_gib):
        return None
    demand = Demand(vcpus=vcpus, memory_mib=memory, disk_gib=disk)
    _check_room(session, server, demand)
    return demand


def _check_room(session: Session, server: Server, demand: Demand) -> None:
    # The host row lock serialises this with placements on the same host (see placement.py).
    host = session.exec(select(Host).where(col(Host.id) == server.host_id).with_for_update()).one()
    used = usage_by_host(session, [server.host_id]).get(server.host_id, Usage())
    without = Usage(
        vcpus=used.vcpus - server.vcpus,
        memory_mib=used.memory_mib - server.memory_mib,
        disk_gib=used.disk_gib - server.disk_gib,
        servers=used.servers,
    )
    if not fits(host, without, demand):
        raise NoCapacity(f"host {host.name!r} has no room for the new size of server {server.id}")


def _bump(session: Session, server: Server, now: datetime, **values: object) -> None:
    result = session.exec(
        update(Server)
        .where(col(Server.id) == server.id, col(Server.generation) == server.generation)
        .values(generation=server.generation + 1, updated_at=now, **values)
    )
    if result.rowcount != 1:  # the caller's transaction is abandoned with the error
        raise ConcurrentChange(f"server {server.id} changed concurrently; retry")
    session.refresh(server)
