"""Agent routes (controlplane/protocol.py): an agent token reads and reports only for its own host."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response, status
from fastapi.responses import FileResponse
from fastapi.routing import APIRouter
from starlette.concurrency import run_in_threadpool

from controlplane.api.deps import (
    ClockDep,
    CurrentPrincipal,
    DrainingDep,
    EngineDep,
    SessionDep,
    SettingsDep,
)
from controlplane.api.openapi_contract import unavailable
from controlplane.api.presenters import host_public
from controlplane.errors import Forbidden
from controlplane.models.auth import Role
from controlplane.models.host import Host
from controlplane.protocol import (
    DESIRED_VERSION_HEADER,
    DesiredServer,
    DesiredVersion,
    Heartbeat,
    HostDesiredState,
    HostObservedState,
)
from controlplane.schemas.hosts import HostPublic
from controlplane.schemas.types import Key, Line
from controlplane.services.fleet import agent_state, image_store
from controlplane.services.fleet import hosts as host_service
from controlplane.services.fleet import images as image_service

router = APIRouter(prefix="/v1/hosts/{host}", tags=["agent"])

# How often a waiting watch re-reads the fingerprint: the latency of an order reaching the agent.
WATCH_CHECK_INTERVAL_S = 0.1


def _host_for(readers: frozenset[Role]):  # type: ignore[no-untyped-def]
    """Resolves the path's host: its own agent, admin, and the given roles may pass; others get 403."""

    def check(host: Annotated[Key, Path()], principal: CurrentPrincipal, session: SessionDep) -> Host:
        if principal.role is Role.AGENT:
            row = host_service.bound_host(session, principal.host_id)
            if row is None or row.name != host:
                raise Forbidden(f"this agent token is not bound to host {host!r}", field="host")
            return row
        if principal.role is not Role.ADMIN and principal.role not in readers:
            raise Forbidden(f"role {principal.role.value!r} may not use agent routes of a host")
        return host_service.get_host(session, host)

    return check


AgentOnly = Annotated[Host, Depends(_host_for(frozenset()))]
AgentOrReader = Annotated[Host, Depends(_host_for(frozenset({Role.OPERATOR})))]


@router.post("/heartbeat")
def heartbeat(
    body: Heartbeat, host: AgentOnly, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> HostPublic:
    now = clock()
    row = host_service.record_heartbeat(
        session,
        now=now,
        host=host,
        settings=settings,
        libvirt_host_id=body.libvirt_host_id,
        networks=body.networks,
    )
    return host_public(row, now=now, settings=settings, used=None)


@router.get("/desired-state")
def desired_state(
    host: AgentOrReader, session: SessionDep, clock: ClockDep, response: Response, settings: SettingsDep
) -> HostDesiredState:
    now = clock()
    # Fingerprint first: a change landing in between makes a watch from it return at once (a spare
    # pass), never miss the change.
    response.headers[DESIRED_VERSION_HEADER] = agent_state.desired_version(session, host, now)
    prefixes = settings.management_prefixes
    return agent_state.desired_state_for_host(session, host, now, management_prefixes=prefixes)


@router.get("/desired-state/watch")
async def watch_desired_state(
    host: AgentOrReader,
    session: SessionDep,
    engine: EngineDep,
    clock: ClockDep,
    draining: DrainingDep,
    request: Request,
    since: Annotated[Line, Query(max_length=128)] = "",
    wait_s: Annotated[float, Query(ge=0, le=60)] = 30.0,
) -> DesiredVersion:
    """Long poll: answers as soon as the desired-state version differs from `since`, else at `wait_s`.

    Async so a waiting watch holds no worker thread; each check is one short query in the threadpool.
    The state lives only in the database, so any replica can answer any watch. A server shutting down
    answers at once with the version as it stands, as if `wait_s` had run out (uvicorn would otherwise
    cancel the watch after its graceful timeout: a 500 and a traceback); the connection closes, so the
    agent watches again from the same version on another replica, or backs off while none answers.
    """
    await run_in_threadpool(session.close)  # don't keep a pooled connection checked out while waiting
    deadline = time.monotonic() + wait_s
    version = await run_in_threadpool(agent_state.current_desired_version, engine, host, clock())
    while version == since and time.monotonic() < deadline and not draining.is_set():
        if await request.is_disconnected():
            break
        await asyncio.sleep(min(WATCH_CHECK_INTERVAL_S, max(deadline - time.monotonic(), 0.0)))
        version = await run_in_threadpool(agent_state.current_desired_version, engine, host, clock())
    return DesiredVersion(version=version)


@router.get("/servers/{server_id}/desired-state")
def desired_server(
    server_id: Key, host: AgentOrReader, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> DesiredServer:
    prefixes = settings.management_prefixes
    return agent_state.desired_server(session, host, server_id, clock(), management_prefixes=prefixes)


@router.post("/observed-state", status_code=status.HTTP_204_NO_CONTENT)
def observed_state(body: HostObservedState, host: AgentOnly, session: SessionDep, clock: ClockDep) -> None:
    agent_state.apply_observed_state(session, now=clock(), host=host, report=body)


class ImageFileResponse(FileResponse):
    """An image file in 1 MiB reads: Starlette's 64 KiB made a host's first fetch of an image 2x a copy
    (each chunk is an event-loop turn and an ASGI message through every middleware)."""

    chunk_size = 1024 * 1024


@router.get(
    "/images/{image_id}/file",
    response_class=FileResponse,
    responses=unavailable(
        "the image is active but its file is not on this replica (missing, or not the "
        "recorded size and sha256), or is still being verified here: another replica may serve it"
    ),
)
def image_file(image_id: Key, host: AgentOnly, session: SessionDep, settings: SettingsDep) -> FileResponse:
    """An active image's bytes for the host's cache; Range requests resume a cut download.

    The ETag is the sha256 recorded at import, which the agent verifies before using the file. A
    replica without the file (its image directory not shared, or not mounted), or still hashing a
    file it has not checked yet, answers 503 with Retry-After, never a 500 and never a request held
    for the hash: the agent continues from another replica.
    """
    image = image_service.servable_image(session, image_id)
    return ImageFileResponse(
        image_store.served_file(settings, image),
        media_type="application/octet-stream",
        headers={"ETag": f'"{image.sha256}"', "Cache-Control": "no-store"},
    )
