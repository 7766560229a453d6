"""The agent's half of the console relay (controlplane/protocol.py): watch for sessions, attach a stream."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, WebSocket
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from controlplane.api.console_relay import ConsoleRelay, deny
from controlplane.api.deps import ClockDep, DrainingDep, EngineDep, SessionDep, principal_from_header
from controlplane.api.routes.agent import AgentOnly
from controlplane.clock import Clock
from controlplane.errors import Conflict, DcloudError, Forbidden
from controlplane.models.auth import Role
from controlplane.models.host import Host
from controlplane.protocol import ConsoleOrder, ConsoleOrders
from controlplane.schemas.types import Key, Line
from controlplane.services.fleet import console as console_service
from controlplane.services.fleet import hosts as host_service

router = APIRouter(prefix="/v1/hosts/{host}/console-sessions", tags=["agent"])

STREAM_PATH = "/v1/hosts/{host}/console-sessions/{{session_id}}/stream"
# As the desired-state watch: the latency of a console request reaching the agent.
CHECK_INTERVAL_S = 0.1


@router.get("/watch")
async def watch_console_sessions(
    host: AgentOnly,
    session: SessionDep,
    engine: EngineDep,
    clock: ClockDep,
    draining: DrainingDep,
    request: Request,
    seen: Annotated[list[Line], Query(max_length=64)] = [],  # noqa: B006  # FastAPI copies defaults
    wait_s: Annotated[float, Query(ge=0, le=60)] = 25.0,
) -> ConsoleOrders:
    """Long poll: answers once a session on this host is waiting that the agent has not `seen`."""
    await run_in_threadpool(session.close)  # hold no pooled connection while waiting
    known = frozenset(seen)
    deadline = time.monotonic() + wait_s
    orders = await run_in_threadpool(_pending, engine, clock, host, known)
    while not orders and time.monotonic() < deadline and not draining.is_set():
        if await request.is_disconnected():
            break
        await asyncio.sleep(min(CHECK_INTERVAL_S, max(deadline - time.monotonic(), 0.0)))
        orders = await run_in_threadpool(_pending, engine, clock, host, known)
    return ConsoleOrders(sessions=orders)


def _pending(engine: Engine, clock: Clock, host: Host, seen: frozenset[str]) -> list[ConsoleOrder]:
    with Session(engine) as session:
        path = STREAM_PATH.format(host=host.name)
        return console_service.pending_orders(session, host=host, now=clock(), stream_path=path, seen=seen)


@router.websocket("/{session_id}/stream")
async def console_stream(
    websocket: WebSocket, host: Annotated[Key, Path()], session_id: Annotated[Key, Path()]
) -> None:
    """The agent's socket for one session: held open while this replica relays it to the caller."""
    state = websocket.app.state
    relay: ConsoleRelay = state.console_relay
    header = websocket.headers.get("authorization", "")
    try:
        if not relay.holds(session_id):
            raise Conflict(f"console session {session_id} is not waiting on this control-plane replica")
        await run_in_threadpool(_attach, state.engine, state.clock, header, host, session_id)
    except DcloudError as exc:
        await deny(websocket, exc)
        return
    await websocket.accept()
    done = relay.offer(session_id, websocket)
    if done is None:  # the caller left between the check and now
        await websocket.close(code=1000, reason="the console session ended")
        return
    await done.wait()


def _attach(engine: Engine, clock: Clock, header: str, host_name: str, session_id: str) -> None:
    with Session(engine, expire_on_commit=False) as session:
        principal = principal_from_header(session, header, now=clock())
        host = host_service.bound_host(session, principal.host_id)
        if principal.role is not Role.AGENT or host is None or host.name != host_name:
            raise Forbidden(f"only the agent of host {host_name!r} may attach its consoles", field="host")
        console_service.attach_session(session, now=clock(), host=host, session_id=session_id)
