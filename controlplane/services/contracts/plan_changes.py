"""A plan change's server size (Art. 32(2), issue 9) reaches the servers on the change's effective date.

The size is checked when the change is asked for (a disk that would shrink, a host without room: refused,
nothing written) and kept on the change's fee period; a later change is checked against the size the
change before it, still waiting, will have given the servers. A change dated today or earlier (Asia/Seoul)
resizes at once; a later one waits for the daily `plan-changes` job, which acts from the effective date
itself (a missed day is caught up on the next run) and re-checks everything when it acts: the contract
still in service, each server still there, the host still with room.

Only the latest sized change in force is ever applied: an earlier one still waiting (recorded late, or
left over from a failed run) is settled as superseded (`plan_size_superseded`), never applied over it.
A full host or a concurrent change leaves the size waiting for the next run (one `resize_failed` row per
change, server and reason); a disk that would shrink is refused for good. A settled size is never acted
on again, so a rerun does nothing more.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.errors import ConcurrentChange, Conflict, NoCapacity
from controlplane.models.audit import AuditEvent
from controlplane.models.billing import FeePeriod
from controlplane.models.customer import Contract, ContractState
from controlplane.models.server import Server
from controlplane.schemas.servers import ServerResize
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.fleet.server_changes import (
    check_contract_resize,
    contract_servers,
    resize_contract_servers,
    resize_for_plan,
)
from controlplane.terms.calendar import seoul_date
from controlplane.terms.clauses import ART_32_2

log = logging.getLogger(__name__)

CLAUSE = str(ART_32_2)  # the plan change's clause, as its fee period and its audit rows cite it
ACTOR = "system:plan-changes"
_IN_SERVICE = (ContractState.ACTIVE.value, ContractState.RESTRICTED.value)


_HAS_SIZE = or_(  # a fee period that carries a server size
    col(FeePeriod.server_vcpus).is_not(None),
    col(FeePeriod.server_memory_mib).is_not(None),
    col(FeePeriod.server_disk_gib).is_not(None),
)


def pending_size(period: FeePeriod) -> ServerResize | None:
    """The size the period's plan change gives the servers, None when it has none."""
    sizes = (period.server_vcpus, period.server_memory_mib, period.server_disk_gib)
    if sizes == (None, None, None):
        return None
    return ServerResize(vcpus=sizes[0], memory_mib=sizes[1], disk_gib=sizes[2])


def size_columns(size: ServerResize | None) -> dict[str, Any]:
    """The fee period's columns that keep `size` until its day."""
    if size is None:
        return {}
    return {
        "server_vcpus": size.vcpus,
        "server_memory_mib": size.memory_mib,
        "server_disk_gib": size.disk_gib,
    }


def resize_on_effective_date(
    session: Session, *, period: FeePeriod, size: ServerResize, now: datetime, actor: str
) -> None:
    """Resizes now when the change is in force today (Seoul), else only checks the size; no commit.

    Either way a size the servers cannot take raises here, before the plan change is written. A change
    dated before a later sized change already in force is settled as superseded instead; one that
    resizes supersedes the earlier changes still waiting.
    """
    today = seoul_date(now)
    if period.effective_from > today:
        base = _waiting_before(session, period)
        check_contract_resize(session, contract_id=period.contract_id, size=size, base=base)
        return
    later = _sized_periods(session, period.contract_id, through=today, after=period.effective_from)
    if later:
        _supersede(session, period, by=later[-1], now=now, actor=actor)
        return
    resize_contract_servers(session, now=now, actor=actor, contract_id=period.contract_id, size=size)
    _settle(session, period, now)
    for earlier in _sized_periods(session, period.contract_id, through=today, before=period.effective_from):
        if earlier.server_size_settled_at is None:
            _supersede(session, earlier, by=period, now=now, actor=actor)


def _sized_periods(
    session: Session,
    contract_id: int,
    *,
    through: date,
    after: date | None = None,
    before: date | None = None,
) -> list[FeePeriod]:
    """The contract's fee periods with a size from on or before `through`, oldest first."""
    query = select(FeePeriod).where(
        FeePeriod.contract_id == contract_id,
        col(FeePeriod.effective_from) <= through,
        _HAS_SIZE,
    )
    if after is not None:
        query = query.where(col(FeePeriod.effective_from) > after)
    if before is not None:
        query = query.where(col(FeePeriod.effective_from) < before)
    return list(session.exec(query.order_by(col(FeePeriod.effective_from))).all())


def _waiting_before(session: Session, period: FeePeriod) -> ServerResize | None:
    """The size the servers will have just before `period`: the latest sized change before it, when it
    still waits (an applied one is the servers' size now; earlier ones are superseded by it)."""
    day_before = period.effective_from - timedelta(days=1)
    earlier = _sized_periods(session, period.contract_id, through=day_before)
    if not earlier or earlier[-1].server_size_settled_at is not None:
        return None
    return pending_size(earlier[-1])


def _settle(session: Session, period: FeePeriod, now: datetime) -> None:
    period.server_size_settled_at = now
    session.add(period)


def _supersede(session: Session, period: FeePeriod, *, by: FeePeriod, now: datetime, actor: str) -> None:
    """Settles a waiting size without applying it: a later change's size is the one in force."""
    size = pending_size(period)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=period.contract_id,
        action="plan_size_superseded",
        clause=CLAUSE,
        after={
            "effective_from": str(period.effective_from),
            "size": size.model_dump(exclude_none=True) if size is not None else None,
            "superseded_by": str(by.effective_from),
        },
    )
    _settle(session, period, now)


@dataclass
class PlanSizeReport:
    applied: list[int] = field(default_factory=list)  # fee period ids
    skipped: list[int] = field(default_factory=list)  # the contract was no longer in service
    superseded: list[int] = field(default_factory=list)  # a later sized change was in force
    waiting: list[int] = field(default_factory=list)  # a server could not take it yet: retried next run
    failed: list[str] = field(default_factory=list)  # server ids left at their size, with the reason

    def merge(self, other: PlanSizeReport) -> None:
        self.applied += other.applied
        self.skipped += other.skipped
        self.superseded += other.superseded
        self.waiting += other.waiting
        self.failed += other.failed


def due_plan_sizes(session: Session, as_of: date) -> list[tuple[int, int]]:
    """(fee period, contract) of each size due by `as_of` still waiting, oldest change first (one query)."""
    query = (
        select(FeePeriod.id, FeePeriod.contract_id)
        .where(
            col(FeePeriod.effective_from) <= as_of,
            col(FeePeriod.server_size_settled_at).is_(None),
            _HAS_SIZE,
        )
        .order_by(col(FeePeriod.effective_from), col(FeePeriod.id))
    )
    return [(int(pid), contract_id) for pid, contract_id in session.exec(query).all() if pid is not None]


def apply_due_plan_sizes(engine: Engine, *, as_of: date, now: datetime, actor: str = ACTOR) -> PlanSizeReport:
    """The daily job: each contract with a size due by `as_of` in its own transaction under its contract
    lock, so an unexpected error on one (logged, its sizes left waiting) stops no other; idempotent."""
    report = PlanSizeReport()
    with session_scope(engine) as session:
        contracts = list(dict.fromkeys(contract_id for _, contract_id in due_plan_sizes(session, as_of)))
    for contract_id in contracts:
        part = PlanSizeReport()
        try:
            with session_scope(engine) as session:
                _settle_contract(session, contract_id, as_of=as_of, now=now, actor=actor, report=part)
        except Exception:
            log.exception("plan change sizes of contract %s not applied; the next run retries", contract_id)
            report.failed.append(f"contract {contract_id}: unexpected error (retried on the next run)")
            continue
        report.merge(part)
    return report


def _settle_contract(
    session: Session, contract_id: int, *, as_of: date, now: datetime, actor: str, report: PlanSizeReport
) -> None:
    contract = lock_contract(session, contract_id)  # first: the facts below are read under the lock
    sized = _sized_periods(session, contract_id, through=as_of)
    if not sized:
        return
    latest = sized[-1]  # the only size in force; earlier ones still waiting never apply over it
    for earlier in sized[:-1]:
        if earlier.server_size_settled_at is None:
            _supersede(session, earlier, by=latest, now=now, actor=actor)
            report.superseded.append(earlier.id or 0)
    size = pending_size(latest)
    if latest.server_size_settled_at is not None or size is None:
        return  # applied already (at once, or by another run while this one waited for the lock)
    if contract.state not in _IN_SERVICE:
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="contract",
            entity_id=contract_id,
            action="plan_size_skipped",
            clause=CLAUSE,
            after={"effective_from": str(latest.effective_from), "why": f"the contract is {contract.state}"},
        )
        report.skipped.append(latest.id or 0)
        _settle(session, latest, now)
        return
    retry = False
    for server in contract_servers(session, contract_id):
        retry |= _resize_one(
            session, server=server, period=latest, size=size, now=now, actor=actor, report=report
        )
    if retry:
        report.waiting.append(latest.id or 0)  # the servers resized so far keep their new size
    else:
        report.applied.append(latest.id or 0)
        _settle(session, latest, now)


def _resize_one(
    session: Session,
    *,
    server: Server,
    period: FeePeriod,
    size: ServerResize,
    now: datetime,
    actor: str,
    report: PlanSizeReport,
) -> bool:
    """One server; True when it could not take the size yet (a full host, a concurrent change: the next
    run retries). A disk grown past the plan leaves it as it is for good. Either way audited (once per
    change, server and reason) and reported for an operator."""
    server_id = server.id
    try:
        resize_for_plan(session, server=server, size=size, now=now, actor=actor)
    except (NoCapacity, ConcurrentChange) as exc:  # refused before anything is written
        _audit_failure(session, server_id, period, size, exc.message, now=now, actor=actor)
        report.failed.append(f"{server_id}: {exc.message} (retried on the next run)")
        return True
    except Conflict as exc:
        _audit_failure(session, server_id, period, size, exc.message, now=now, actor=actor)
        report.failed.append(f"{server_id}: {exc.message}")
    return False


def _audit_failure(
    session: Session,
    server_id: str,
    period: FeePeriod,
    size: ServerResize,
    why: str,
    *,
    now: datetime,
    actor: str,
) -> None:
    """One `resize_failed` row per change, server and reason, however many runs retry it."""
    after = {"fee_period": period.id, "size": size.model_dump(exclude_none=True), "why": why}
    query = select(AuditEvent.after).where(
        AuditEvent.entity_type == "server",
        AuditEvent.entity_id == server_id,
        AuditEvent.action == "resize_failed",
    )
    if any(seen == after for seen in session.exec(query).all()):
        return
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="server",
        entity_id=server_id,
        action="resize_failed",
        clause=CLAUSE,
        after=after,
    )


def pending_plan_changes(
    session: Session, contracts: list[Contract], today: date
) -> dict[int, list[FeePeriod]]:
    """Per contract, the plan changes not yet in force on `today` (Seoul) and those whose size still
    waits for the job (one query). The opening fee period (on the first term's start) is no change."""
    term_starts = {c.id: c.term_start for c in contracts if c.id is not None}
    found: dict[int, list[FeePeriod]] = defaultdict(list)
    if not term_starts:
        return found
    query = (
        select(FeePeriod)
        .where(col(FeePeriod.contract_id).in_(list(term_starts)))
        .order_by(col(FeePeriod.contract_id), col(FeePeriod.effective_from))
    )
    earliest: set[int] = set()
    for period in session.exec(query).all():
        start = term_starts[period.contract_id]
        opening = period.contract_id not in earliest and start is not None and period.effective_from <= start
        earliest.add(period.contract_id)
        waiting = pending_size(period) is not None and period.server_size_settled_at is None
        if waiting or (period.effective_from > today and not opening):
            found[period.contract_id].append(period)
    return found
