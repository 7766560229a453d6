"""A contract's live servers, and the generation bump that makes their agents re-apply a definition
(a traffic filter, a bandwidth cap or a firewall changed). Used by enforcement and the firewall add-on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from controlplane.models.server import Server
from controlplane.services.audit import record_change
from controlplane.services.fleet.servers import server_snapshot


def contract_servers(session: Session, contract_id: int) -> list[Server]:
    """The contract's servers that still exist (a wiped one has `deleted_at`)."""
    query = (
        select(Server)
        .where(Server.contract_id == contract_id, col(Server.deleted_at).is_(None))
        .order_by(col(Server.created_at), col(Server.id))
    )
    return list(session.exec(query).all())


def bump_server_generation(
    session: Session, server: Server, *, at: datetime, actor: str, clause: str, action: str
) -> None:
    """A new generation tells the agent to redefine the domain (e.g. its SMTP filter changed)."""
    before = server_snapshot(server)
    session.execute(
        update(Server)
        .where(col(Server.id) == server.id)
        .values(generation=col(Server.generation) + 1, updated_at=at)
    )
    session.refresh(server)
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="server",
        entity_id=server.id,
        action=action,
        clause=clause,
        before=before,
        after=server_snapshot(server),
    )
