"""/v1/audit: the trail of every change, for auditors and admins, filterable by entity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from controlplane.api.deps import Principal, SessionDep, require_roles
from controlplane.api.presenters import audit_public
from controlplane.models.auth import Role
from controlplane.schemas.audit import AuditEventPublic
from controlplane.schemas.types import Count, Line
from controlplane.services import audit as audit_service

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Auditor = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]


@router.get("")
def list_audit_events(
    _who: Auditor,
    session: SessionDep,
    entity_type: Annotated[Line | None, Query(max_length=32)] = None,
    entity_id: Annotated[Line | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[Count, Query()] = 0,
) -> list[AuditEventPublic]:
    events = audit_service.list_events(
        session, entity_type=entity_type, entity_id=entity_id, limit=limit, offset=offset
    )
    return [audit_public(e) for e in events]
