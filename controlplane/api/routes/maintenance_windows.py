"""/v1/maintenance-windows: regular (00:00-07:00 Seoul, announced ahead) and irregular maintenance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlmodel import Session

from controlplane.api.deps import ClockDep, Principal, SessionDep, require_roles
from controlplane.models.auth import Role
from controlplane.models.maintenance import MaintenanceWindow, WindowState
from controlplane.schemas.maintenance import (
    ServerRecordPublic,
    WindowCancel,
    WindowCreate,
    WindowPublic,
    WindowReschedule,
)
from controlplane.schemas.types import Id
from controlplane.services.fleet import maintenance_windows as windows
from controlplane.terms.maintenance import seoul_text

router = APIRouter(tags=["maintenance"])

Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR))]


def _public(session: Session, window: MaintenanceWindow) -> WindowPublic:
    window_id = window.id or 0
    records = [
        ServerRecordPublic.model_validate(r, from_attributes=True)
        for r in windows.server_records(session, window_id)
    ]
    return WindowPublic.model_validate(
        {
            **window.model_dump(),
            "starts_at_seoul": seoul_text(window.starts_at),
            "ends_at_seoul": seoul_text(window.ends_at),
            "hosts": windows.window_host_names(session, window_id),
            "servers": records,
        }
    )


@router.post("/v1/maintenance-windows", status_code=status.HTTP_201_CREATED)
def create_window(body: WindowCreate, who: Operator, session: SessionDep, clock: ClockDep) -> WindowPublic:
    window = windows.create_window(session, data=body, now=clock(), actor=who.actor)
    return _public(session, window)


@router.get("/v1/maintenance-windows")
def list_windows(_who: Reader, session: SessionDep, state: WindowState | None = None) -> list[WindowPublic]:
    found = windows.list_windows(session, state=state.value if state else None)
    return [_public(session, w) for w in found]


@router.get("/v1/maintenance-windows/{window_id}")
def get_window(window_id: Id, _who: Reader, session: SessionDep) -> WindowPublic:
    return _public(session, windows.get_window(session, window_id))


@router.patch("/v1/maintenance-windows/{window_id}")
def reschedule_window(
    window_id: Id, body: WindowReschedule, who: Operator, session: SessionDep, clock: ClockDep
) -> WindowPublic:
    window = windows.reschedule_window(session, window_id=window_id, data=body, now=clock(), actor=who.actor)
    return _public(session, window)


@router.post("/v1/maintenance-windows/{window_id}/cancel")
def cancel_window(
    window_id: Id, body: WindowCancel, who: Operator, session: SessionDep, clock: ClockDep
) -> WindowPublic:
    window = windows.cancel_window(
        session, window_id=window_id, reason=body.reason, now=clock(), actor=who.actor
    )
    return _public(session, window)
