"""Serial console access: single-use tickets (stored hashed) and the sessions they opened (audited)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime, new_id


class ConsoleSessionState(StrEnum):
    """pending: waiting for the host's agent to attach; open: bytes flow; closed: over, with a reason."""

    PENDING = "pending"
    OPEN = "open"
    CLOSED = "closed"


class ConsoleTicket(SQLModel, table=True):
    """A short-lived, single-use right to open one server's console; only its SHA-256 is kept."""

    __tablename__ = "console_tickets"

    id: int | None = Field(default=None, primary_key=True)
    ticket_hash: str = Field(max_length=64, unique=True)
    server_id: str = Field(foreign_key="servers.id", max_length=32, index=True)
    actor: str = Field(max_length=128)
    token_id: int | None = Field(default=None, foreign_key="api_tokens.id")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class ConsoleSession(SQLModel, table=True):
    """One console connection: who, which server, on which host, when it opened and for how long."""

    __tablename__ = "console_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    server_id: str = Field(foreign_key="servers.id", max_length=32, index=True)
    host_id: int = Field(foreign_key="hosts.id", index=True)
    ticket_id: int = Field(foreign_key="console_tickets.id", unique=True)
    actor: str = Field(max_length=128)
    # The control-plane replica holding the client's socket: the agent attaches there (see services).
    relay_url: str = Field(max_length=512)
    state: str = Field(default=ConsoleSessionState.PENDING, max_length=16, index=True)
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    attach_deadline: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    attached_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    close_reason: str | None = Field(default=None, max_length=256)
    bytes_to_client: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    bytes_from_client: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
