"""Audit schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEventPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    entity_type: str
    entity_id: str
    action: str
    clause: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
