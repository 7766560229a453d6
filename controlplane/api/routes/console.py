"""Serial console: `POST /v1/servers/{id}/console-tickets`, then the WebSocket `/v1/servers/{id}/console`.

Browsers cannot put an Authorization header on a WebSocket, so the socket is opened with the ticket in
its query; the ticket is single-use and lives ~30 s, so one seen in a log is already spent or void.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, WebSocket, status
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from controlplane.api.console_relay import (
    INTERNAL_ERROR,
    NORMAL_CLOSURE,
    ConsoleRelay,
    Traffic,
    close_quietly,
    deny,
    pump,
)
from controlplane.api.deps import (
    ClockDep,
    CurrentPrincipal,
    Principal,
    SessionDep,
    SettingsDep,
    TenantDep,
)
from controlplane.clock import Clock
from controlplane.config import Settings
from controlplane.errors import DcloudError, Forbidden
from controlplane.models.auth import Role
from controlplane.models.console import ConsoleSession
from controlplane.models.server import Server
from controlplane.schemas.console import ConsoleSessionPublic, ConsoleTicketPublic
from controlplane.schemas.types import Key
from controlplane.services.fleet import console as console_service
from controlplane.services.fleet import servers as server_service
from controlplane.services.tenancy import Owned

router = APIRouter(prefix="/v1/servers/{server_id}", tags=["console"])

# How often an open session re-checks that no full restriction has started (Art. 16, 33).
RESTRICTION_RECHECK_S = 5.0
CONSOLE_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.CUSTOMER})


@dataclass(frozen=True)
class ConsoleAccess:
    principal: Principal
    server: Server


def console_access(
    server_id: Key, principal: CurrentPrincipal, tenant: TenantDep, session: SessionDep
) -> ConsoleAccess:
    """Who may open which server's console: the one authorization point of the console routes.

    Staff who run servers (operator, admin) may open any. A tenant role (a customer's own token) is
    admitted here and scoped to its customer's servers, answering 404 for any other server so their
    existence does not leak.
    """
    if principal.role not in CONSOLE_ROLES:
        names = ", ".join(sorted(r.value for r in CONSOLE_ROLES))
        raise Forbidden(f"role {principal.role.value!r} may not open a console; needs one of: {names}")
    tenant.owns(Owned.SERVER, server_id, field="server_id")
    return ConsoleAccess(principal=principal, server=server_service.get_server(session, server_id))


ConsoleAccessDep = Annotated[ConsoleAccess, Depends(console_access)]


@router.post("/console-tickets", status_code=status.HTTP_201_CREATED)
def create_console_ticket(
    access: ConsoleAccessDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> ConsoleTicketPublic:
    issued = console_service.issue_ticket(
        session,
        now=clock(),
        actor=access.principal.actor,
        token_id=access.principal.token_id,
        server_id=access.server.id,
        ttl_s=settings.console_ticket_ttl_s,
    )
    server_id = access.server.id
    return ConsoleTicketPublic(
        ticket=issued.plaintext,
        server_id=server_id,
        expires_at=issued.row.expires_at,
        path=f"/v1/servers/{server_id}/console?ticket={issued.plaintext}",
    )


@router.get("/console-sessions")
def list_console_sessions(access: ConsoleAccessDep, session: SessionDep) -> list[ConsoleSessionPublic]:
    rows = console_service.console_sessions(session, server_id=access.server.id)
    return [ConsoleSessionPublic.model_validate(row, from_attributes=True) for row in rows]


@router.websocket("/console")
async def console(
    websocket: WebSocket,
    server_id: Annotated[Key, Path()],
    ticket: Annotated[str, Query(min_length=1, max_length=128)],
) -> None:
    """Raw serial console bytes both ways as binary messages, until either side closes."""
    state = websocket.app.state
    settings: Settings = state.settings
    relay: ConsoleRelay = state.console_relay
    relay_url = settings.console_relay_url or _base_url(websocket)
    try:
        row = await run_in_threadpool(
            _open, state.engine, state.clock, server_id, ticket, relay_url, settings
        )
    except DcloudError as exc:
        await deny(websocket, exc)
        return
    pairing = relay.expect(row.id)
    traffic = Traffic()
    reason, code = "closed", NORMAL_CLOSURE
    try:
        await websocket.accept()
        try:
            agent = await asyncio.wait_for(pairing.agent, timeout=settings.console_attach_timeout_s)
        except TimeoutError:
            reason, code = "the server's host did not attach its console in time", INTERNAL_ERROR
            return
        reason = await pump(
            websocket,
            agent,
            traffic,
            recheck=lambda: run_in_threadpool(_restriction, state.engine, state.clock, server_id),
            recheck_every_s=RESTRICTION_RECHECK_S,
        )
        await close_quietly(agent, NORMAL_CLOSURE, reason)
    finally:
        relay.forget(row.id)
        await close_quietly(websocket, code, reason)
        await run_in_threadpool(_close, state.engine, state.clock, row.id, reason, traffic)


def _base_url(websocket: WebSocket) -> str:
    """The address the caller reached this replica at (the agent attaches to the same one)."""
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    return f"{scheme}://{websocket.url.netloc}"


def _open(
    engine: Engine, clock: Clock, server_id: str, ticket: str, relay_url: str, settings: Settings
) -> ConsoleSession:
    with Session(engine, expire_on_commit=False) as session:
        return console_service.open_session(
            session,
            now=clock(),
            server_id=server_id,
            ticket=ticket,
            relay_url=relay_url,
            attach_timeout_s=settings.console_attach_timeout_s,
        )


def _restriction(engine: Engine, clock: Clock, server_id: str) -> str | None:
    with Session(engine) as session:
        return console_service.server_restriction(session, server_id=server_id, now=clock())


def _close(engine: Engine, clock: Clock, session_id: str, reason: str, traffic: Traffic) -> None:
    with Session(engine) as session:
        console_service.close_session(
            session,
            now=clock(),
            session_id=session_id,
            reason=reason,
            bytes_to_client=traffic.to_client,
            bytes_from_client=traffic.from_client,
        )
