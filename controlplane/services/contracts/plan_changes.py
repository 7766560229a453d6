"""A plan change's server size (Art. 32(2), issue 9) reaches the servers on the change's effective date.

The size is checked when the change is asked for (a disk that would shrink, a host without room: refused,
nothing written) and kept on the change's fee period. A change dated today or earlier (Asia/Seoul)
resizes at once; a later one waits for the daily `plan-changes` job, which acts from the effective date
itself (a missed day is caught up on the next run) and re-checks everything when it acts: the contract
still in service, each server still there, the host still with room. A settled size is never acted on
again, so a rerun does nothing more.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.errors import Conflict
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

log = logging.getLogger(__name__)

CLAUSE = "Art. 32(2)"  # the plan change's clause, as its fee period and its audit rows cite it
ACTOR = "system:plan-changes"
_IN_SERVICE = (ContractState.ACTIVE.value, ContractState.RESTRICTED.value)


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

    Either way a size the servers cannot take raises here, before the plan change is written.
    """
    if period.effective_from <= seoul_date(now):
        resize_contract_servers(session, now=now, actor=actor, contract_id=period.contract_id, size=size)
        period.server_size_settled_at = now
        session.add(period)
    else:
        check_contract_resize(session, contract_id=period.contract_id, size=size)


@dataclass
class PlanSizeReport:
    applied: list[int] = field(default_factory=list)  # fee period ids
    skipped: list[int] = field(default_factory=list)  # the contract was no longer in service
    failed: list[str] = field(default_factory=list)  # server ids left at their size, with the reason


def due_plan_sizes(session: Session, as_of: date) -> list[tuple[int, int]]:
    """(fee period, contract) of each size due by `as_of` still waiting, oldest change first (one query)."""
    query = (
        select(FeePeriod.id, FeePeriod.contract_id)
        .where(
            col(FeePeriod.effective_from) <= as_of,
            col(FeePeriod.server_size_settled_at).is_(None),
            or_(
                col(FeePeriod.server_vcpus).is_not(None),
                col(FeePeriod.server_memory_mib).is_not(None),
                col(FeePeriod.server_disk_gib).is_not(None),
            ),
        )
        .order_by(col(FeePeriod.effective_from), col(FeePeriod.id))
    )
    return [(int(pid), contract_id) for pid, contract_id in session.exec(query).all() if pid is not None]


def apply_due_plan_sizes(engine: Engine, *, as_of: date, now: datetime, actor: str = ACTOR) -> PlanSizeReport:
    """The daily job: every size due by `as_of`, each change in its own transaction under its contract
    lock; idempotent."""
    report = PlanSizeReport()
    with session_scope(engine) as session:
        due = due_plan_sizes(session, as_of)
    for period_id, contract_id in due:
        with session_scope(engine) as session:
            _settle(session, period_id, contract_id, now=now, actor=actor, report=report)
    return report


def _settle(
    session: Session, period_id: int, contract_id: int, *, now: datetime, actor: str, report: PlanSizeReport
) -> None:
    contract = lock_contract(session, contract_id)  # first: the facts below are read under the lock
    period = session.get(FeePeriod, period_id)
    assert period is not None  # fee periods are never deleted
    size = pending_size(period)
    if period.server_size_settled_at is not None or size is None:
        return  # another run settled it while this one waited for the lock
    if contract.state in _IN_SERVICE:
        for server in contract_servers(session, contract.id or 0):
            _resize_one(session, server=server, size=size, now=now, actor=actor, report=report)
        report.applied.append(period_id)
    else:
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="contract",
            entity_id=contract.id or 0,
            action="plan_size_skipped",
            clause=CLAUSE,
            after={"effective_from": str(period.effective_from), "why": f"the contract is {contract.state}"},
        )
        report.skipped.append(period_id)
    period.server_size_settled_at = now
    session.add(period)


def _resize_one(
    session: Session, *, server: Server, size: ServerResize, now: datetime, actor: str, report: PlanSizeReport
) -> None:
    """One server; a disk grown past the plan or a full host leaves it as it is, audited and logged for an
    operator (its plan change is settled all the same: the next run does not retry it)."""
    server_id = server.id
    try:
        resize_for_plan(session, server=server, size=size, now=now, actor=actor)
    except Conflict as exc:  # NoCapacity is one; both are refused before anything is written
        log.warning("plan change resize of server %s not applied: %s", server_id, exc.message)
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="server",
            entity_id=server_id,
            action="resize_failed",
            clause=CLAUSE,
            after={"size": size.model_dump(exclude_none=True), "why": exc.message},
        )
        report.failed.append(f"{server_id}: {exc.message}")


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
