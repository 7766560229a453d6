"""What agents read (desired state) and write (observed state, deletion records, orphans)."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, ScalarSelect, func, not_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controlplane.errors import Conflict, NotFound
from controlplane.models.customer import Contract
from controlplane.models.enforcement import PARTIAL_SCOPES, Block
from controlplane.models.host import Host, OrphanDomain
from controlplane.models.image import Image
from controlplane.models.server import DeletionRecord, DesiredState, ObservedState, Server
from controlplane.protocol import (
    DeletionReport,
    DesiredImage,
    DesiredServer,
    DomainType,
    FirstBoot,
    HostDesiredState,
    HostObservedState,
    NetworkAttachment,
    ObservedServer,
    OrphanReport,
    RebootOrder,
)
from controlplane.services.audit import record_change
from controlplane.services.fleet.deletion_times import check_deletion_times
from controlplane.services.fleet.images import desired_image
from controlplane.services.fleet.server_guards import wipe_allowed_clause, wipe_withheld
from controlplane.services.fleet.traffic import ServerTraffic, traffic_for
from network.models import AddressLease
from network.service import attachments_for, release_server_addresses

AGENT_ACTOR_PREFIX = "agent:"
DELETION_REFUSED = "deletion_refused"
log = logging.getLogger(__name__)


def _desired(
    server: Server,
    networks: list[NetworkAttachment],
    traffic: ServerTraffic,
    withhold_wipe: bool = False,
    image: DesiredImage | None = None,
) -> DesiredServer:
    # A delete whose contract is not terminating is served as "stopped": data kept, nothing wiped.
    state = DesiredState.STOPPED if withhold_wipe else server.desired_state
    return DesiredServer(
        id=server.id,
        name=server.name,
        vcpus=server.vcpus,
        memory_mib=server.memory_mib,
        disk_gib=server.disk_gib,
        desired_state=state,  # type: ignore[arg-type]
        generation=server.generation,
        networks=networks,
        block_outbound_smtp=traffic.block_outbound_smtp,
        quarantine=traffic.quarantine,
        quarantine_allow=traffic.quarantine_allow,
        bandwidth_kbytes=traffic.bandwidth_kbytes,
        firewall=traffic.firewall,
        suspend_mode="managedsave" if server.suspended_for_maintenance else None,
        image=image,
        first_boot=_first_boot(server),
        domain_type=DomainType(server.domain_type) if server.domain_type else None,
        reboot=RebootOrder(seq=server.reboot_seq, hard=server.reboot_hard) if server.reboot_seq else None,
    )


def _first_boot(server: Server) -> FirstBoot | None:
    if server.image_id is None or server.hostname is None:
        return None
    return FirstBoot(
        hostname=server.hostname,
        ssh_authorized_keys=list(server.ssh_authorized_keys),
        password_hash=server.password_hash,
    )


def _images(session: Session, servers: list[Server]) -> dict[str, DesiredImage]:
    """image id -> what the agent needs to fetch and verify it, for the servers built on an image."""
    ids = {s.image_id for s in servers if s.image_id is not None}
    if not ids:
        return {}
    rows = session.exec(select(Image).where(col(Image.id).in_(ids))).all()
    return {row.id: desired_image(row) for row in rows}


def _traffic(
    session: Session, servers: list[Server], now: datetime | None, prefixes: list[str] | None
) -> dict[str, ServerTraffic]:
    """Partial restrictions in force and the firewall add-on, per server (services/fleet/traffic.py)."""
    return traffic_for(session, servers, now or datetime.now(UTC), management_prefixes=prefixes)


def _networks(session: Session, server_ids: list[str]) -> dict[str, list[NetworkAttachment]]:
    if not server_ids:
        return {}
    found = attachments_for(session, server_ids)
    return {
        sid: [NetworkAttachment.model_validate(a, from_attributes=True) for a in found.get(sid, [])]
        for sid in server_ids
    }


def desired_state_for_host(
    session: Session, host: Host, now: datetime | None = None, *, management_prefixes: list[str] | None = None
) -> HostDesiredState:
    """Every server of the host until its deletion record arrives (a deleted one so the agent wipes it)."""
    query = (
        select(Server)
        .where(Server.host_id == host.id, col(Server.deleted_at).is_(None))
        .order_by(col(Server.created_at), col(Server.id))
    )
    servers = list(session.exec(query).all())
    networks = _networks(session, [s.id for s in servers])
    traffic = _traffic(session, servers, now, management_prefixes)
    withheld = wipe_withheld(session, servers)
    images = _images(session, servers)
    return HostDesiredState(
        host=host.name,
        servers=[
            _desired(s, networks.get(s.id, []), traffic[s.id], s.id in withheld, images.get(s.image_id or ""))
            for s in servers
        ],
    )


def desired_version(session: Session, host: Host, now: datetime | None = None) -> str:
    """An opaque fingerprint of `desired_state_for_host`: it changes whenever that answer can change.

    One statement of aggregates instead of the whole listing, so a watch can re-check it ten times a
    second. Each part covers one input of the desired state: the servers (a change of desired state or
    of the SMTP filter bumps `generation`; a wipe drops the row from the count), the SMTP blocks in force
    at `now` (a block noticed in advance starts later without touching the server), the deletes whose
    wipe is withheld (they flip when the contract starts terminating), and the active address leases.
    """
    at = now or datetime.now(UTC)
    live = (Server.host_id == host.id, col(Server.deleted_at).is_(None))
    parts: list[ScalarSelect[Any]] = [
        select(func.count()).select_from(Server).where(*live).scalar_subquery(),
        select(func.coalesce(func.sum(Server.generation), 0)).where(*live).scalar_subquery(),
        select(func.max(Server.updated_at)).where(*live).scalar_subquery(),
        _partial_block_count(live, at),
        _withheld_count(live),
        *_lease_aggregates(select(Server.id).where(*live)),
    ]
    row = session.execute(select(*parts)).one()
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:24]


def current_desired_version(engine: Engine, host: Host, now: datetime | None = None) -> str:
    """`desired_version` in its own short session (the watch route calls it from a worker thread)."""
    with Session(engine) as session:
        return desired_version(session, host, now)


def _partial_block_count(live: tuple[Any, ...], at: datetime) -> ScalarSelect[Any]:
    return (
        select(func.count())
        .select_from(Server)
        .join(Block, col(Block.contract_id) == col(Server.contract_id))
        .where(
            *live,
            col(Block.scope).in_([s.value for s in PARTIAL_SCOPES]),
            col(Block.lifted_at).is_(None),
            col(Block.started_at) <= at,
        )
        .scalar_subquery()
    )


def _withheld_count(live: tuple[Any, ...]) -> ScalarSelect[Any]:
    return (
        select(func.count())
        .select_from(Server)
        .join(Contract, col(Contract.id) == col(Server.contract_id))
        .where(*live, Server.desired_state == DesiredState.DELETED, not_(wipe_allowed_clause()))
        .scalar_subquery()
    )


def _lease_aggregates(live_ids: Any) -> list[ScalarSelect[Any]]:
    """Count and id sum of the live servers' active leases (a new lease always has a new id)."""
    active = (col(AddressLease.server_id).in_(live_ids), col(AddressLease.released_at).is_(None))
    return [
        select(func.count()).select_from(AddressLease).where(*active).scalar_subquery(),
        select(func.coalesce(func.sum(AddressLease.id), 0)).where(*active).scalar_subquery(),
    ]


def desired_server(
    session: Session,
    host: Host,
    server_id: str,
    now: datetime | None = None,
    *,
    management_prefixes: list[str] | None = None,
) -> DesiredServer:
    server = session.get(Server, server_id)
    if server is None or server.host_id != host.id:
        raise NotFound(f"no server {server_id!r} on host {host.name!r}", field="server_id")
    traffic = _traffic(session, [server], now, management_prefixes)
    withheld = wipe_withheld(session, [server])
    networks = _networks(session, [server.id]).get(server.id, [])
    image = _images(session, [server]).get(server.image_id or "")
    return _desired(server, networks, traffic[server.id], server.id in withheld, image)


def apply_observed_state(session: Session, *, now: datetime, host: Host, report: HostObservedState) -> None:
    """One transaction per report; re-sent reports are harmless (deletion records are idempotent)."""
    actor = f"{AGENT_ACTOR_PREFIX}{host.name}"
    servers = {s.id: s for s in session.exec(select(Server).where(Server.host_id == host.id)).all()}
    _refuse_unordered_deletions(session, host=host, servers=servers, report=report, now=now, actor=actor)
    check_deletion_times(session, deletions=report.deletions, servers=servers, now=now)
    seen = {o.id for o in report.servers}
    for observed in report.servers:
        server = servers.get(observed.id)
        if server is not None:  # an id from another host is ignored: an agent speaks only for its own
            _observe(session, server=server, observed=observed, now=now, actor=actor)
    if report.full:
        for server in servers.values():
            pending = ObservedState.PENDING
            if server.id not in seen and server.deleted_at is None and server.observed_state != pending:
                missing = ObservedServer(id=server.id, state=pending, detail="no domain on the host")
                _observe(session, server=server, observed=missing, now=now, actor=actor)
    for deletion in report.deletions:
        server = servers.get(deletion.server_id)
        if server is not None:
            _record_deletion(session, host=host, server=server, report=deletion, now=now, actor=actor)
    _record_orphans(session, host=host, orphans=report.orphans, full=report.full, now=now)
    session.commit()


GIB = 1024**3


def _refuse_unordered_deletions(
    session: Session,
    *,
    host: Host,
    servers: dict[str, Server],
    report: HostObservedState,
    now: datetime,
    actor: str,
) -> None:
    """The control plane accepts a deletion record only for a server it ordered deleted (Art. 20(8)):
    anything else is refused whole (409), audited and counted, and changes nothing else."""
    refusals = [
        (d.server_id, why)
        for d in report.deletions
        if (why := deletion_refusal(session, servers.get(d.server_id), d, host)) is not None
    ]
    if not refusals:
        return
    session.rollback()
    for server_id, why in refusals:
        log.warning("refused a deletion record from host %s for server %s: %s", host.name, server_id, why)
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="server",
            entity_id=server_id,
            action=DELETION_REFUSED,
            clause="Art. 20(8)",
            after={"host": host.name, "why": why},
        )
    session.commit()  # before raising, on purpose: the refusal stays on the audit trail (see db.py)
    server_id, why = refusals[0]
    raise Conflict(f"deletion record for server {server_id} refused: {why}", field="deletions")


def deletion_refusal(
    session: Session, server: Server | None, report: DeletionReport, host: Host
) -> str | None:
    """Why a deletion record cannot be accepted, or None when it can. Re-sent records of a server already
    wiped are accepted (idempotent)."""
    if server is None:
        return f"server {report.server_id} is not a server of host {host.name}"
    if server.deleted_at is not None:
        return None
    if server.desired_state != DesiredState.DELETED:
        return f"the control plane never ordered it deleted (desired state {server.desired_state})"
    if wipe_withheld(session, [server]):
        return "its contract is not terminating with the wipe ordered"
    return _volume_refusal(server, report)


def _volume_refusal(server: Server, report: DeletionReport) -> str | None:
    names = [v.name for v in report.volumes]
    if not names:
        return "the record lists no wiped volume"
    if len(set(names)) != len(names):
        return "the record lists a volume twice"
    if not report.domain_name.endswith(server.id):
        return f"domain {report.domain_name!r} is not the server's"
    foreign = [n for n in names if not n.startswith(f"{report.domain_name}-")]
    if foreign:
        return f"volume {foreign[0]!r} is not one of the server's volumes"
    for volume in report.volumes:
        if volume.capacity_bytes <= 0 or not 0 <= volume.bytes_overwritten <= volume.capacity_bytes:
            return (
                f"volume {volume.name!r}: {volume.bytes_overwritten} bytes overwritten of "
                f"{volume.capacity_bytes} is not a wipe"
            )
    if sum(v.bytes_overwritten for v in report.volumes) != report.bytes_overwritten:
        return "the total bytes overwritten do not match the per-volume journal entries"
    if max(v.capacity_bytes for v in report.volumes) < server.disk_gib * GIB:
        return f"no wiped volume is as large as the server's {server.disk_gib} GiB disk"
    return None


def _observe(
    session: Session, *, server: Server, observed: ObservedServer, now: datetime, actor: str
) -> None:
    if server.deleted_at is not None:
        return  # a wiped server stays deleted whatever a stale report says
    before = server.observed_state
    server.observed_state = observed.state
    server.observed_detail = (observed.detail or None) and observed.detail[:1024]
    server.observed_at = now
    if observed.vcpus is not None:
        server.observed_vcpus = observed.vcpus
    if observed.memory_mib is not None:
        server.observed_memory_mib = observed.memory_mib
    if observed.disk_bytes is not None:
        server.observed_disk_bytes = observed.disk_bytes
    session.add(server)
    if before != observed.state:
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="server",
            entity_id=server.id,
            action="observed",
            before={"observed_state": before},
            after={"observed_state": observed.state},
        )


def _record_deletion(
    session: Session, *, host: Host, server: Server, report: DeletionReport, now: datetime, actor: str
) -> None:
    exists = session.exec(select(DeletionRecord).where(DeletionRecord.server_id == server.id)).first()
    if exists is None:
        record = DeletionRecord(
            server_id=server.id,
            host_id=host.id or 0,
            domain_name=report.domain_name,
            volumes=[v.model_dump() for v in report.volumes],
            shared_bases=[b.model_dump() for b in report.shared_bases],
            bytes_overwritten=report.bytes_overwritten,
            method=report.method,
            started_at=report.started_at,
            finished_at=report.finished_at,
            received_at=now,
        )
        try:
            with session.begin_nested():  # a concurrent duplicate report loses the unique race quietly
                session.add(record)
        except IntegrityError:
            return
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="server",
            entity_id=server.id,
            action="wiped",
            clause="Art. 20(8)",
            after={
                "bytes_overwritten": report.bytes_overwritten,
                "method": report.method,
                "volumes": [v.name for v in report.volumes],
                "shared_bases_not_wiped": [b.name for b in report.shared_bases],
            },
        )
    if server.deleted_at is None:
        server.deleted_at = now
        server.observed_state = ObservedState.DELETED
        server.observed_at = now
        if server.desired_state != DesiredState.DELETED:
            server.desired_state = DesiredState.DELETED
            server.generation += 1
        session.add(server)
        # The disks are wiped: the address leaves the server and enters quarantine before reuse.
        release_server_addresses(session, server_id=server.id, at=now)


def _record_orphans(
    session: Session, *, host: Host, orphans: list[OrphanReport], full: bool, now: datetime
) -> None:
    known = {
        o.domain_uuid: o for o in session.exec(select(OrphanDomain).where(OrphanDomain.host_id == host.id))
    }
    for report in orphans:
        row = known.pop(report.domain_uuid, None)
        if row is None:
            row = OrphanDomain(
                host_id=host.id or 0,
                domain_name=report.domain_name,
                domain_uuid=report.domain_uuid,
                state=report.state,
                first_seen_at=now,
                last_seen_at=now,
            )
        row.domain_name, row.state, row.last_seen_at = report.domain_name, report.state[:32], now
        session.add(row)
    if full:
        for gone in known.values():  # a full resync that no longer lists it: the domain is gone
            session.delete(gone)
