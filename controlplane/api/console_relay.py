"""The console relay inside one control-plane replica: pairs a caller's WebSocket with the one its host's
agent opens for the same session, and pumps bytes between them until either side ends.

The pairing is in memory (`app.state.console_relay`): a session is recorded with the URL of the replica
holding the caller's socket, so the agent attaches to that replica and never needs a broker. What is
durable (who, when, how long, why it ended) is written through the console service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from controlplane.api.errors import error_body, status_for
from controlplane.errors import DcloudError

# A WebSocket close reason is at most 123 bytes of UTF-8 (RFC 6455 5.5).
_REASON_BYTES = 123
NORMAL_CLOSURE = 1000
INTERNAL_ERROR = 1011


@dataclass
class Pairing:
    """One pending session: the agent's socket arrives in `agent`; `done` lets the agent's handler end."""

    agent: asyncio.Future[WebSocket]
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ConsoleRelay:
    """Sessions of this replica waiting for, or relaying to, their host's agent."""

    def __init__(self) -> None:
        self._pairings: dict[str, Pairing] = {}

    def expect(self, session_id: str) -> Pairing:
        pairing = Pairing(agent=asyncio.get_running_loop().create_future())
        self._pairings[session_id] = pairing
        return pairing

    def holds(self, session_id: str) -> bool:
        pairing = self._pairings.get(session_id)
        return pairing is not None and not pairing.agent.done()

    def offer(self, session_id: str, agent: WebSocket) -> asyncio.Event | None:
        """Hands the agent's socket to the waiting caller; None if this replica holds no such session."""
        pairing = self._pairings.get(session_id)
        if pairing is None or pairing.agent.done():
            return None
        pairing.agent.set_result(agent)
        return pairing.done

    def forget(self, session_id: str) -> None:
        pairing = self._pairings.pop(session_id, None)
        if pairing is not None:
            pairing.done.set()
            if not pairing.agent.done():
                pairing.agent.cancel()

    def __len__(self) -> int:
        return len(self._pairings)


@dataclass
class Traffic:
    to_client: int = 0
    from_client: int = 0


async def deny(websocket: WebSocket, exc: DcloudError) -> None:
    """Refuses a WebSocket before it opens: an HTTP answer with the usual error body where the server
    supports it (the status the same error gets on any route), else a close code of 4000 + that status."""
    status = status_for(exc)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(error_body(exc), status_code=status))
        return
    await websocket.accept()
    await websocket.close(code=4000 + status, reason=close_reason(exc.message))


def close_reason(text: str) -> str:
    data = text.encode()[:_REASON_BYTES]
    return data.decode(errors="ignore")


async def _forward(source: WebSocket, sink: WebSocket, count: Callable[[int], None], side: str) -> str:
    """Copies messages until `source` ends; returns why (the agent's own close reason when it gave one)."""
    while True:
        message = await source.receive()
        if message["type"] == "websocket.disconnect":
            reason = message.get("reason") or ""
            return reason or f"{side} closed the connection (code {message.get('code', 1000)})"
        data = message.get("bytes")
        if data is None:
            data = (message.get("text") or "").encode()
        if data:
            count(len(data))
            await sink.send_bytes(data)


async def _watch(recheck: Callable[[], Awaitable[str | None]], every_s: float) -> str:
    while True:
        await asyncio.sleep(every_s)
        refusal = await recheck()
        if refusal is not None:
            return refusal


async def pump(
    client: WebSocket,
    agent: WebSocket,
    traffic: Traffic,
    *,
    recheck: Callable[[], Awaitable[str | None]],
    recheck_every_s: float,
) -> str:
    """Relays both ways until one side ends or `recheck` names a reason to stop; returns the reason."""

    def to_client(n: int) -> None:
        traffic.to_client += n

    def from_client(n: int) -> None:
        traffic.from_client += n

    tasks = [
        asyncio.create_task(_forward(agent, client, to_client, "the host")),
        asyncio.create_task(_forward(client, agent, from_client, "the client")),
        asyncio.create_task(_watch(recheck, recheck_every_s)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        first = done.pop()
        try:
            return first.result()
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            return f"connection lost: {type(exc).__name__}"
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


async def close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=close_reason(reason))
