"""The audit trail: one row per change, written in the same transaction as the change itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from controlplane.models.audit import AuditEvent


def record_change(
    session: Session,
    *,
    at: datetime,
    actor: str,
    entity_type: str,
    entity_id: str | int,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    clause: str | None = None,
) -> AuditEvent:
    """Adds (does not commit) an audit row; the caller's transaction decides whether it sticks."""
    event = AuditEvent(
        at=at,
        actor=actor,
        entity_type=entity_type,
        entity_id=str(entity_id),
        action=action,
        clause=clause,
        before=before,
        after=after,
    )
    session.add(event)
    return event


def list_events(
    session: Session,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEvent]:
    query = select(AuditEvent)
    if entity_type is not None:
        query = query.where(AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == entity_id)
    query = query.order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())
