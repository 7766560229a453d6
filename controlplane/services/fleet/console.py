"""Serial console access: tickets, sessions, and the rule that a fully restricted server has none.

The path (ARCHITECTURE "Console path"): a caller allowed to open a server's console gets a ticket
(`issue_ticket`), a random secret of which only the SHA-256 is stored, valid for `console_ticket_ttl_s`
and for one use. Opening the console WebSocket with it (`open_session`) consumes it in one conditional
UPDATE, so two sockets racing with one ticket get one session, and records a pending session that the
host's agent sees on its console watch (`pending_orders`). The agent attaches (`attach_session`) to
the replica that holds the caller's socket (`relay_url`), bytes flow, and `close_session` records how
long it lasted. Every step is on the audit trail (who, which server, when, how long).

A server under an active full restriction (Art. 16, 33: a nonpayment, operator or emergency block of
scope `full`) gets no ticket and no session (409 naming the block's clause): the console would be a
way around the suspension. An open session is cut when such a block starts (`restriction_of`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from controlplane.errors import Conflict, NotFound, Unauthenticated
from controlplane.models.console import ConsoleSession, ConsoleSessionState, ConsoleTicket
from controlplane.models.host import Host
from controlplane.models.server import DesiredState, Server
from controlplane.protocol import ConsoleOrder
from controlplane.services.audit import record_change
from controlplane.services.fleet.server_guards import active_full_block

TICKET_PREFIX = "dcc_"
CLOSE_REASON_MAX = 256


def hash_ticket(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedTicket:
    row: ConsoleTicket
    plaintext: str


def restriction_of(session: Session, server: Server, now: datetime) -> str | None:
    """Why `server` may have no console at `now` (the full block and its clause), or None."""
    block = active_full_block(session, server, now)
    if block is None:
        return None
    return (
        f"server {server.id} is under a full restriction (block {block.id}, {block.kind}, {block.clause}); "
        "its console opens again when the block is lifted"
    )


def _console_target(session: Session, server_id: str, now: datetime) -> Server:
    server = session.get(Server, server_id)
    if server is None:
        raise NotFound(f"no server {server_id!r}", field="server_id")
    if server.desired_state == DesiredState.DELETED or server.deleted_at is not None:
        raise Conflict(f"server {server_id} is deleted: it has no console", field="server_id")
    refusal = restriction_of(session, server, now)
    if refusal is not None:
        raise Conflict(refusal, field="server_id")
    return server


def issue_ticket(
    session: Session, *, now: datetime, actor: str, token_id: int | None, server_id: str, ttl_s: float
) -> IssuedTicket:
    """A single-use ticket for one server's console, valid for `ttl_s` seconds."""
    server = _console_target(session, server_id, now)
    plaintext = TICKET_PREFIX + secrets.token_urlsafe(32)
    row = ConsoleTicket(
        ticket_hash=hash_ticket(plaintext),
        server_id=server.id,
        actor=actor,
        token_id=token_id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="server",
        entity_id=server.id,
        action="console_ticket",
        after={"ticket_id": row.id, "expires_at": row.expires_at.isoformat()},
    )
    session.commit()
    return IssuedTicket(row=row, plaintext=plaintext)


def open_session(
    session: Session,
    *,
    now: datetime,
    server_id: str,
    ticket: str,
    relay_url: str,
    attach_timeout_s: float,
) -> ConsoleSession:
    """Consumes `ticket` (once, before it expires, for this server only) and records a pending session."""
    consumed = session.execute(
        update(ConsoleTicket)
        .where(
            col(ConsoleTicket.ticket_hash) == hash_ticket(ticket),
            col(ConsoleTicket.server_id) == server_id,
            col(ConsoleTicket.used_at).is_(None),
            col(ConsoleTicket.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(ConsoleTicket.id), col(ConsoleTicket.actor))
    ).first()
    if consumed is None:
        session.rollback()
        raise Unauthenticated("console ticket unknown, expired, already used or for another server")
    ticket_id, actor = consumed
    server = _console_target(session, server_id, now)  # a block may have started since the ticket
    row = ConsoleSession(
        server_id=server.id,
        host_id=server.host_id,
        ticket_id=ticket_id,
        actor=actor,
        relay_url=relay_url[:512],
        requested_at=now,
        attach_deadline=now + timedelta(seconds=attach_timeout_s),
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="server",
        entity_id=server.id,
        action="console_open",
        after={"session_id": row.id, "host_id": row.host_id, "ticket_id": ticket_id},
    )
    session.commit()
    return row


def pending_orders(
    session: Session, *, host: Host, now: datetime, stream_path: str, seen: frozenset[str] = frozenset()
) -> list[ConsoleOrder]:
    """Sessions on `host` waiting for its agent, not yet past their attach deadline, minus `seen`."""
    query = (
        select(ConsoleSession)
        .where(
            ConsoleSession.host_id == host.id,
            ConsoleSession.state == ConsoleSessionState.PENDING,
            col(ConsoleSession.attach_deadline) > now,
        )
        .order_by(col(ConsoleSession.requested_at))
    )
    return [
        ConsoleOrder(
            session_id=row.id,
            server_id=row.server_id,
            stream_url=_ws_url(row.relay_url) + stream_path.format(session_id=row.id),
            attach_by=row.attach_deadline,
        )
        for row in session.exec(query).all()
        if row.id not in seen
    ]


def _ws_url(base: str) -> str:
    base = base.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://")
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://")
    return base


def attach_session(session: Session, *, now: datetime, host: Host, session_id: str) -> ConsoleSession:
    """The host's agent attaches: pending -> open, once, before the deadline, for its own host only."""
    row = session.get(ConsoleSession, session_id)
    if row is None or row.host_id != host.id:
        raise NotFound(f"no console session {session_id!r} on host {host.name!r}", field="session_id")
    attached = session.execute(
        update(ConsoleSession)
        .where(
            col(ConsoleSession.id) == session_id,
            col(ConsoleSession.state) == ConsoleSessionState.PENDING,
            col(ConsoleSession.attach_deadline) > now,
        )
        .values(state=ConsoleSessionState.OPEN, attached_at=now)
    )
    if attached.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict(f"console session {session_id} is no longer waiting for its host")
    session.commit()
    session.refresh(row)
    return row


def close_session(
    session: Session,
    *,
    now: datetime,
    session_id: str,
    reason: str,
    bytes_to_client: int,
    bytes_from_client: int,
) -> ConsoleSession | None:
    """Ends a session and audits how long it lasted; closing a closed one changes nothing."""
    row = session.get(ConsoleSession, session_id)
    if row is None or row.state == ConsoleSessionState.CLOSED:
        return row
    row.state = ConsoleSessionState.CLOSED
    row.closed_at = now
    row.close_reason = reason[:CLOSE_REASON_MAX]
    row.bytes_to_client = bytes_to_client
    row.bytes_from_client = bytes_from_client
    session.add(row)
    opened = row.attached_at
    record_change(
        session,
        at=now,
        actor=row.actor,
        entity_type="server",
        entity_id=row.server_id,
        action="console_close",
        after={
            "session_id": row.id,
            "attached_at": opened.isoformat() if opened else None,
            "duration_s": round((now - opened).total_seconds(), 3) if opened else 0.0,
            "reason": row.close_reason,
            "bytes_to_client": bytes_to_client,
            "bytes_from_client": bytes_from_client,
        },
    )
    session.commit()
    return row


def console_sessions(session: Session, *, server_id: str) -> list[ConsoleSession]:
    query = select(ConsoleSession).where(ConsoleSession.server_id == server_id)
    return list(session.exec(query.order_by(col(ConsoleSession.requested_at))).all())


def server_restriction(session: Session, *, server_id: str, now: datetime) -> str | None:
    """For an open session's periodic re-check: the refusal if a full block now covers the server."""
    server = session.get(Server, server_id)
    return None if server is None else restriction_of(session, server, now)
