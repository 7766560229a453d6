"""Carrying maintenance windows out (the `maintenance-windows` job): scheduled -> notified -> in_progress
-> completed, each step audited, each window in its own transaction so one failure stops no other.

- notified: a regular window on the start of its notice day (N days ahead, Art. 10(8)-1); an irregular
  one at creation (10(8)-2).
- in_progress at its start: a `suspend-and-resume` window orders every running server on its hosts
  suspended for maintenance (the agent managed-saves it) and records each one.
- completed at its end, once every saved server is back: the window orders them running (a managed-save
  image restores on start) and records each restore; a server whose contract was restricted meanwhile
  stays suspended and resumes when the block is lifted (Art. 16(5)).
Every step reads the window's own times (its anchors), so a late run acts late, never wrongly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.errors import Conflict
from controlplane.models.maintenance import (
    OPEN_STATES,
    MaintenanceServerRecord,
    MaintenanceWindow,
    MaintenanceWindowHost,
    ServerOutcome,
    WindowAction,
    WindowKind,
    WindowState,
)
from controlplane.models.server import DesiredState, ObservedState, Server
from controlplane.policy_registry import current_policy
from controlplane.services.audit import record_change
from controlplane.services.fleet.maintenance_notices import notify_affected
from controlplane.services.fleet.maintenance_windows import mark_notified
from controlplane.services.fleet.server_guards import check_action_allowed
from controlplane.terms import maintenance as terms
from controlplane.terms.calendar import seoul_date

log = logging.getLogger(__name__)
ACTOR = "system:maintenance"
_FINAL = {ServerOutcome.RESTORED, ServerOutcome.FAILED, ServerOutcome.LEFT_SUSPENDED}
_CLAUSE = "Art. 14(2)"


@dataclass
class WindowReport:
    notified: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def advance_windows(engine: Engine, *, now: datetime, actor: str = ACTOR) -> WindowReport:
    report = WindowReport()
    with Session(engine) as session:
        query = select(MaintenanceWindow.id).where(
            col(MaintenanceWindow.state).in_([s.value for s in OPEN_STATES])
        )
        ids = [i for i in session.exec(query.order_by(col(MaintenanceWindow.starts_at))).all() if i]
    for window_id in ids:
        try:
            with session_scope(engine) as session:
                _advance(session, window_id, now=now, actor=actor, report=report)
        except Exception as exc:  # the next run retries; the other windows go on
            log.exception("maintenance window %s could not advance", window_id)
            report.failed[window_id] = f"{type(exc).__name__}: {exc}"
    return report


def _advance(session: Session, window_id: int, *, now: datetime, actor: str, report: WindowReport) -> None:
    window = session.exec(
        select(MaintenanceWindow).where(MaintenanceWindow.id == window_id).with_for_update()
    ).one()
    policy = current_policy(seoul_date(now))
    if window.state == WindowState.SCHEDULED:
        due = window.kind != WindowKind.REGULAR or now >= terms.regular_notice_at(window.starts_at, policy)
        if not due:
            return
        mark_notified(session, window, now=now, actor=actor)
        report.notified.append(window_id)
    if window.state == WindowState.NOTIFIED and now >= window.starts_at:
        _start(session, window, now=now, actor=actor)
        report.started.append(window_id)
    if window.state == WindowState.IN_PROGRESS:
        _track_saves(session, window, now=now)
        if now >= window.ends_at and _finish(session, window, now=now, actor=actor):
            report.completed.append(window_id)


def _audit(
    session: Session, window: MaintenanceWindow, action: str, now: datetime, actor: str, **after: object
) -> None:
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="maintenance_window",
        entity_id=window.id or 0,
        action=action,
        clause=_CLAUSE,
        after={"state": window.state, **after},
    )


def _start(session: Session, window: MaintenanceWindow, *, now: datetime, actor: str) -> None:
    # A customer whose server arrived on a host after the announcement is told now (same revision: once).
    notify_affected(session, window, now=now)
    window.state = WindowState.IN_PROGRESS.value
    window.started_at = now
    session.add(window)
    saved: list[str] = []
    if window.action == WindowAction.SUSPEND_AND_RESUME:
        saved = _order_saves(session, window, now=now, actor=actor)
    _audit(session, window, "start", now, actor, servers_saved=saved)


def _servers_on_hosts(session: Session, window: MaintenanceWindow) -> list[Server]:
    query = (
        select(Server)
        .join(MaintenanceWindowHost, col(MaintenanceWindowHost.host_id) == col(Server.host_id))
        .where(MaintenanceWindowHost.window_id == window.id, col(Server.deleted_at).is_(None))
        .order_by(col(Server.id))
    )
    return list(session.exec(query).all())


def _set_desired(
    session: Session, server: Server, *, target: DesiredState, now: datetime, **values: object
) -> bool:
    """Compare-and-swap on `generation` (as servers.change_desired_state): a concurrent order wins."""
    result = session.execute(
        update(Server)
        .where(col(Server.id) == server.id, col(Server.generation) == server.generation)
        .values(desired_state=target.value, generation=server.generation + 1, updated_at=now, **values)
    )
    session.refresh(server)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _order_saves(session: Session, window: MaintenanceWindow, *, now: datetime, actor: str) -> list[str]:
    saved = []
    for server in _servers_on_hosts(session, window):
        if server.desired_state != DesiredState.RUNNING:
            continue  # stopped or suspended by its customer or a restriction: nothing to save or resume
        if not _set_desired(
            session, server, target=DesiredState.SUSPENDED, now=now, suspended_for_maintenance=True
        ):
            continue
        session.add(MaintenanceServerRecord(window_id=window.id or 0, server_id=server.id))
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="server",
            entity_id=server.id,
            action="maintenance_save",
            clause=_CLAUSE,
            before={"desired_state": DesiredState.RUNNING.value},
            after={"desired_state": server.desired_state, "window_id": window.id},
        )
        saved.append(server.id)
    session.flush()
    return saved


def _records(session: Session, window: MaintenanceWindow) -> list[MaintenanceServerRecord]:
    query = select(MaintenanceServerRecord).where(MaintenanceServerRecord.window_id == window.id)
    return list(session.exec(query.order_by(col(MaintenanceServerRecord.id))).all())


def _track_saves(session: Session, window: MaintenanceWindow, *, now: datetime) -> None:
    """The agent's reports say which saves are done (observed `saved`: a managed-save image exists)."""
    for record in _records(session, window):
        if record.outcome != ServerOutcome.PENDING:
            continue
        server = session.get(Server, record.server_id)
        if server is not None and server.observed_state == ObservedState.SAVED:
            record.outcome, record.saved_at = ServerOutcome.SAVED.value, now
        elif server is not None and server.observed_state == ObservedState.ERROR:
            record.detail = (server.observed_detail or "agent reported an error")[:1000]
        session.add(record)


def _finish(session: Session, window: MaintenanceWindow, *, now: datetime, actor: str) -> bool:
    """Orders every saved server back and records each restore; completes once all are back."""
    records = _records(session, window)
    for record in records:
        if record.outcome not in _FINAL:
            _restore(session, window, record, now=now, actor=actor)
    if any(r.outcome not in _FINAL for r in records):
        return False
    window.state = WindowState.COMPLETED.value
    window.completed_at = now
    session.add(window)
    outcomes = {r.server_id: r.outcome for r in records}
    _audit(session, window, "complete", now, actor, servers=outcomes)
    return True


def _restore(
    session: Session, window: MaintenanceWindow, record: MaintenanceServerRecord, *, now: datetime, actor: str
) -> None:
    server = session.get(Server, record.server_id)
    if server is None or server.deleted_at is not None or server.desired_state == DesiredState.DELETED:
        record.outcome, record.detail = ServerOutcome.FAILED.value, "server deleted during the window"
    elif server.desired_state == DesiredState.SUSPENDED and server.suspended_for_maintenance:
        _order_restore(session, window, record, server, now=now, actor=actor)
    elif server.desired_state == DesiredState.RUNNING and server.observed_state == ObservedState.RUNNING:
        never_saved = record.saved_at is None
        record.outcome = (ServerOutcome.FAILED if never_saved else ServerOutcome.RESTORED).value
        record.detail = "never reported saved; running" if never_saved else None
        record.restored_at = now
    elif server.desired_state != DesiredState.RUNNING:  # someone else ordered it since: theirs to decide
        record.outcome, record.detail = (
            ServerOutcome.FAILED.value,
            f"desired {server.desired_state} by another order",
        )
    session.add(record)


def _order_restore(
    session: Session,
    window: MaintenanceWindow,
    record: MaintenanceServerRecord,
    server: Server,
    *,
    now: datetime,
    actor: str,
) -> None:
    try:
        check_action_allowed(session, server, "resume", now)
    except Conflict as exc:  # restricted meanwhile: lifting the block resumes it (Art. 16(5))
        server.suspended_for_maintenance = False
        server.suspended_by_restriction = True
        session.add(server)
        record.outcome, record.detail = ServerOutcome.LEFT_SUSPENDED.value, exc.message[:1000]
        return
    if _set_desired(session, server, target=DesiredState.RUNNING, now=now, suspended_for_maintenance=False):
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="server",
            entity_id=server.id,
            action="maintenance_restore",
            clause=_CLAUSE,
            before={"desired_state": DesiredState.SUSPENDED.value},
            after={"desired_state": server.desired_state, "window_id": window.id},
        )
