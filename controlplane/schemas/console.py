"""Serial console schemas: the ticket a caller gets, and the sessions it opened."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ConsoleTicketPublic(BaseModel):
    """Shown once: open `path` as a WebSocket (same host as the API) within `expires_at`, one time."""

    ticket: str
    server_id: str
    expires_at: datetime
    path: str


class ConsoleSessionPublic(BaseModel):
    id: str
    server_id: str
    actor: str
    state: str
    requested_at: datetime
    attached_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None
    bytes_to_client: int
    bytes_from_client: int
