"""Maintenance windows: creation (Art. 10(8) checks, no overlap per host), rescheduling, cancellation,
and the reads placement, availability and metrics need. The transitions are in `maintenance_run`.

Overlap is checked under a lock of the target host rows (FOR UPDATE on PostgreSQL, the write lock on
SQLite, as placement does), so two concurrent windows on one host cannot both pass the check.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.host import Host
from controlplane.models.maintenance import (
    OPEN_STATES,
    MaintenanceServerRecord,
    MaintenanceWindow,
    MaintenanceWindowHost,
    WindowAction,
    WindowKind,
    WindowState,
)
from controlplane.policy_registry import current_policy
from controlplane.schemas.maintenance import WindowCreate, WindowReschedule
from controlplane.services.audit import record_change
from controlplane.services.fleet.maintenance_notices import (
    notify_affected,
    notify_cancelled,
)
from controlplane.terms import maintenance as terms
from controlplane.terms.calendar import seoul_date
from controlplane.terms.errors import TermsError


def window_snapshot(window: MaintenanceWindow) -> dict[str, object]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in window.model_dump(exclude={"id"}).items()
    }


def _check_times(kind: str, starts: datetime, ends: datetime, reason: str | None, now: datetime) -> None:
    policy = current_policy(seoul_date(now))
    try:
        if kind == WindowKind.REGULAR:
            terms.check_regular_window(starts, ends, policy=policy)
            terms.check_regular_notice(starts, now=now, policy=policy)
        else:
            terms.check_irregular_window(starts, ends, reason=reason)
    except TermsError as exc:
        raise InvalidInput(exc.message, field=exc.field) from exc
    if ends <= now:
        raise InvalidInput("the window has already ended", field="ends_at")


def _lock_hosts(session: Session, names: list[str]) -> list[Host]:
    if session.get_bind().dialect.name == "sqlite":  # take the write lock before reading (see placement)
        session.execute(update(Host).where(col(Host.id) == -1).values(id=col(Host.id)))
    query = select(Host).where(col(Host.name).in_(names)).order_by(col(Host.id)).with_for_update()
    hosts = list(session.exec(query).all())
    missing = sorted(set(names) - {h.name for h in hosts})
    if missing:
        raise InvalidInput(f"no host named {missing[0]!r}", field="hosts")
    return hosts


def _refuse_overlap(
    session: Session, host_ids: list[int], starts: datetime, ends: datetime, own: int | None
) -> None:
    query = (
        select(MaintenanceWindow.id, Host.name)
        .join(MaintenanceWindowHost, col(MaintenanceWindowHost.window_id) == col(MaintenanceWindow.id))
        .join(Host, col(Host.id) == col(MaintenanceWindowHost.host_id))
        .where(
            col(MaintenanceWindowHost.host_id).in_(host_ids),
            col(MaintenanceWindow.state).in_([s.value for s in OPEN_STATES]),
            col(MaintenanceWindow.starts_at) < ends,
            col(MaintenanceWindow.ends_at) > starts,
        )
    )
    if own is not None:
        query = query.where(col(MaintenanceWindow.id) != own)
    clash = session.exec(query).first()
    if clash is not None:
        raise Conflict(f"host {clash[1]!r} already has maintenance window {clash[0]} then", field="starts_at")


def create_window(session: Session, *, data: WindowCreate, now: datetime, actor: str) -> MaintenanceWindow:
    names = sorted(set(data.hosts))
    _check_times(data.kind, data.starts_at, data.ends_at, data.reason, now)
    hosts = _lock_hosts(session, names)
    _refuse_overlap(session, [h.id or 0 for h in hosts], data.starts_at, data.ends_at, None)
    window = MaintenanceWindow(
        kind=data.kind.value,
        action=data.action.value,
        state=WindowState.SCHEDULED.value,
        reason=data.reason,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        created_by=actor,
        created_at=now,
    )
    session.add(window)
    session.flush()
    session.add_all(MaintenanceWindowHost(window_id=window.id or 0, host_id=h.id or 0) for h in hosts)
    session.flush()
    clause = terms.ART_10_8_1 if data.kind == WindowKind.REGULAR else terms.ART_10_8_2
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="maintenance_window",
        entity_id=window.id or 0,
        action="create",
        clause=str(clause),
        after={**window_snapshot(window), "hosts": names},
    )
    if data.kind == WindowKind.IRREGULAR:  # Art. 10(8)-2: announced as soon as it is decided
        mark_notified(session, window, now=now, actor=actor)
    session.commit()
    return window


def mark_notified(session: Session, window: MaintenanceWindow, *, now: datetime, actor: str) -> None:
    """scheduled -> notified: every affected customer's notice queued in this transaction (helper)."""
    customers = notify_affected(session, window, now=now)
    window.state = WindowState.NOTIFIED.value
    window.notified_at = now
    session.add(window)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="maintenance_window",
        entity_id=window.id or 0,
        action="notify",
        clause=str(terms.ART_10_8_1 if window.kind == WindowKind.REGULAR else terms.ART_10_8_2),
        after={"state": window.state, "customers": customers, "revision": window.revision},
    )


def reschedule_window(
    session: Session, *, window_id: int, data: WindowReschedule, now: datetime, actor: str
) -> MaintenanceWindow:
    window = get_window(session, window_id)
    if window.state not in (WindowState.SCHEDULED, WindowState.NOTIFIED):
        raise Conflict(f"window {window_id} is {window.state}; only a window not yet started moves")
    _check_times(window.kind, data.starts_at, data.ends_at, window.reason, now)
    host_ids = window_host_ids(session, window_id)
    _lock_hosts(session, [h.name for h in session.exec(select(Host).where(col(Host.id).in_(host_ids)))])
    _refuse_overlap(session, host_ids, data.starts_at, data.ends_at, window_id)
    before = window_snapshot(window)
    window.starts_at, window.ends_at = data.starts_at, data.ends_at
    window.revision += 1
    session.add(window)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="maintenance_window",
        entity_id=window_id,
        action="reschedule",
        before=before,
        after=window_snapshot(window),
    )
    if window.state == WindowState.NOTIFIED:  # those told the old time hear the new one at once
        notify_affected(session, window, now=now, rescheduled=True)
    session.commit()
    return window


def cancel_window(
    session: Session, *, window_id: int, reason: str, now: datetime, actor: str
) -> MaintenanceWindow:
    window = get_window(session, window_id)
    if window.state not in (WindowState.SCHEDULED, WindowState.NOTIFIED):
        raise Conflict(f"window {window_id} is {window.state}; only a window not yet started is cancelled")
    before = window_snapshot(window)
    if window.state == WindowState.NOTIFIED:
        notify_cancelled(session, window, reason=reason, now=now)
    window.state = WindowState.CANCELLED.value
    window.cancelled_at = now
    session.add(window)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="maintenance_window",
        entity_id=window_id,
        action="cancel",
        before=before,
        after={**window_snapshot(window), "reason": reason},
    )
    session.commit()
    return window


def get_window(session: Session, window_id: int) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        raise NotFound(f"no maintenance window {window_id}", field="window_id")
    return window


def list_windows(session: Session, *, state: str | None = None, limit: int = 200) -> list[MaintenanceWindow]:
    query = select(MaintenanceWindow)
    if state is not None:
        query = query.where(MaintenanceWindow.state == state)
    return list(session.exec(query.order_by(col(MaintenanceWindow.starts_at)).limit(limit)).all())


def window_host_ids(session: Session, window_id: int) -> list[int]:
    query = select(MaintenanceWindowHost.host_id).where(MaintenanceWindowHost.window_id == window_id)
    return sorted(session.exec(query).all())


def window_host_names(session: Session, window_id: int) -> list[str]:
    query = (
        select(Host.name)
        .join(MaintenanceWindowHost, col(MaintenanceWindowHost.host_id) == col(Host.id))
        .where(MaintenanceWindowHost.window_id == window_id)
    )
    return sorted(session.exec(query).all())


def server_records(session: Session, window_id: int) -> list[MaintenanceServerRecord]:
    query = select(MaintenanceServerRecord).where(MaintenanceServerRecord.window_id == window_id)
    return list(session.exec(query.order_by(col(MaintenanceServerRecord.id))).all())


def draining_windows(session: Session, now: datetime) -> dict[int, int]:
    """host id -> the drain window covering it now: placement puts no new server there."""
    query = (
        select(MaintenanceWindowHost.host_id, MaintenanceWindow.id)
        .join(MaintenanceWindow, col(MaintenanceWindow.id) == col(MaintenanceWindowHost.window_id))
        .where(
            MaintenanceWindow.action == WindowAction.DRAIN.value,
            col(MaintenanceWindow.state).in_([s.value for s in OPEN_STATES]),
            col(MaintenanceWindow.starts_at) <= now,
            col(MaintenanceWindow.ends_at) > now,
        )
    )
    return {host_id: window_id for host_id, window_id in session.exec(query).all() if window_id}


def windows_by_state(session: Session) -> dict[str, int]:
    return dict(Counter(session.exec(select(MaintenanceWindow.state)).all()))


def overrun_windows(session: Session, now: datetime) -> list[MaintenanceWindow]:
    """In progress past their end: a regular window past 07:00 Seoul of its day (Art. 10(8)-1)."""
    running = session.exec(
        select(MaintenanceWindow).where(MaintenanceWindow.state == WindowState.IN_PROGRESS.value)
    ).all()
    policy = current_policy(seoul_date(now))
    return [
        w
        for w in running
        if now
        > terms.overran_until(
            regular=w.kind == WindowKind.REGULAR, starts=w.starts_at, ends=w.ends_at, policy=policy
        )
    ]


def maintenance_spans(
    session: Session, host_ids: list[int], lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    """Windows (not cancelled) on these hosts overlapping [lo, hi): their time is not downtime (14(3))."""
    if not host_ids:
        return []
    query = (
        select(MaintenanceWindow.starts_at, MaintenanceWindow.ends_at)
        .join(MaintenanceWindowHost, col(MaintenanceWindowHost.window_id) == col(MaintenanceWindow.id))
        .where(
            col(MaintenanceWindowHost.host_id).in_(host_ids),
            MaintenanceWindow.state != WindowState.CANCELLED.value,
            col(MaintenanceWindow.starts_at) < hi,
            col(MaintenanceWindow.ends_at) > lo,
        )
        .distinct()
    )
    return [(s, e) for s, e in session.exec(query).all()]
