"""The agent's half of the serial console: watch for sessions, and relay each between libvirt and the
control plane.

`ConsoleWatch` long-polls the control plane (`console_orders`) in a daemon thread, as `DesiredWatch` does
for the desired state, and starts one `ConsoleRelay` thread per new session. A relay opens an outbound
WebSocket to the replica holding the caller (agents speak only to the control plane, never the other
way), then the domain's console with `virDomainOpenConsole` on a non-blocking libvirt stream driven by
libvirt's event loop (which the agent runs already). Console output is read in the stream's event
callback and queued for a sender thread, so a slow caller never stalls the event loop; when the
queue is full, reading pauses and the guest's serial line backs up instead of losing bytes.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

import libvirt
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from agents.domain_xml import domain_name_for
from controlplane.protocol import CONSOLE_UNAVAILABLE, ConsoleOrder, ConsoleOrders

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 25.0
_BACKOFF_MAX_S = 30.0
_QUEUE_CHUNKS = 256
_CHUNK = 65536
_STREAM_EVENTS = (
    libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
)
_EOF = b""


class ConsoleSource(Protocol):
    """What the console needs of the control plane client (`agents.client.ControlPlaneClient`)."""

    auth_header: str

    def console_orders(self, seen: list[str], wait_s: float) -> ConsoleOrders: ...


def supports_console(source: object) -> bool:
    return callable(getattr(source, "console_orders", None)) and hasattr(source, "auth_header")


class ConsoleWatch:
    """Starts a relay for every console session the control plane asks of this host."""

    def __init__(
        self,
        source: ConsoleSource,
        connection: Callable[[], libvirt.virConnect | None],
        stop_event: threading.Event,
        *,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> None:
        self._source = source
        self._connection = connection
        self._stop = stop_event
        self._wait_s = wait_s
        self._relays: dict[str, ConsoleRelay] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="console-watch", daemon=True)
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        backoff_s = 0.5
        while not self._stop.is_set():
            self._relays = {sid: r for sid, r in self._relays.items() if r.is_alive()}
            try:
                orders = self._source.console_orders(sorted(self._relays), self._wait_s)
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.warning("console watch failed (%s); retrying in %.1fs", exc, backoff_s)
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, _BACKOFF_MAX_S)
                continue
            backoff_s = 0.5
            for order in orders.sessions:
                if order.session_id not in self._relays:
                    self._start(order)

    def _start(self, order: ConsoleOrder) -> None:
        conn = self._connection()
        relay = ConsoleRelay(order, conn, self._source.auth_header, self._stop)
        self._relays[order.session_id] = relay
        relay.start()


class ConsoleRelay:
    """One session: the control plane's WebSocket on one side, the domain's console stream on the other."""

    def __init__(
        self,
        order: ConsoleOrder,
        conn: libvirt.virConnect | None,
        auth_header: str,
        stop_event: threading.Event,
    ) -> None:
        self.order = order
        self._conn = conn
        self._auth = auth_header
        self._stop = stop_event
        self._out: queue.Queue[bytes] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self._paused = threading.Event()
        self._stream: libvirt.virStream | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        name = f"console-{self.order.session_id[:8]}"
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self) -> None:
        try:
            ws = connect(
                self.order.stream_url, additional_headers={"Authorization": self._auth}, open_timeout=10
            )
        except Exception as exc:
            log.warning("console session %s: cannot attach: %s", self.order.session_id, exc)
            return
        with ws:
            try:
                self._stream = self._open_console()
            except (libvirt.libvirtError, ConsoleUnavailable) as exc:
                ws.close(code=CONSOLE_UNAVAILABLE, reason=_reason(f"no console: {exc}"))
                return
            sender = threading.Thread(target=self._send_output, args=(ws,), daemon=True)
            sender.start()
            try:
                self._forward_input(ws)
            finally:
                self._close_stream()
                self._out.put(_EOF)
                sender.join(5)
        log.info("console session %s ended", self.order.session_id)

    def _open_console(self) -> libvirt.virStream:
        if self._conn is None:
            raise ConsoleUnavailable("the agent is not connected to libvirt")
        dom = self._conn.lookupByName(domain_name_for(self.order.server_id))
        if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING:
            raise ConsoleUnavailable("the server is not running")
        stream = self._conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        # FORCE: a caller whose terminal dropped can attach again at once (the old session ends), as
        # `virsh console --force`; both sessions are on the audit trail.
        dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        stream.eventAddCallback(_STREAM_EVENTS, self._readable, None)
        return stream

    def _readable(self, stream: libvirt.virStream, events: int, _opaque: object) -> None:
        """On libvirt's event-loop thread: drain what the guest wrote into the queue, never block."""
        if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            self._end_output(stream)
            return
        while not self._out.full():
            try:
                chunk = stream.recv(_CHUNK)
            except libvirt.libvirtError:
                self._end_output(stream)
                return
            if chunk == -2:  # nothing more for now
                return
            if not chunk:
                self._end_output(stream)
                return
            assert isinstance(chunk, bytes)
            self._out.put_nowait(chunk)
        # The caller is behind: stop reading until the sender catches up (libvirt buffers meanwhile).
        self._paused.set()
        with contextlib.suppress(libvirt.libvirtError):
            stream.eventUpdateCallback(libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP)

    def _end_output(self, stream: libvirt.virStream) -> None:
        with contextlib.suppress(libvirt.libvirtError):
            stream.eventRemoveCallback()
        with contextlib.suppress(queue.Full):
            self._out.put_nowait(_EOF)

    def _send_output(self, ws: ClientConnection) -> None:
        while True:
            chunk = self._out.get()
            if chunk == _EOF:
                with contextlib.suppress(Exception):
                    ws.close(code=1000, reason="the console stream ended")
                return
            try:
                ws.send(chunk)
            except ConnectionClosed:
                return
            if self._paused.is_set() and self._out.qsize() < _QUEUE_CHUNKS // 2:
                self._paused.clear()
                if self._stream is not None:
                    with contextlib.suppress(libvirt.libvirtError):
                        self._stream.eventUpdateCallback(_STREAM_EVENTS)

    def _forward_input(self, ws: ClientConnection) -> None:
        """Caller keystrokes -> the guest's serial line, until the socket closes or the agent stops."""
        while not self._stop.is_set():
            try:
                message = ws.recv(timeout=1.0)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            data = message.encode() if isinstance(message, str) else bytes(message)
            try:
                self._write(data)
            except libvirt.libvirtError as exc:  # e.g. another session forced the console away
                log.info("console session %s: stream closed: %s", self.order.session_id, exc)
                return

    def _write(self, data: bytes) -> None:
        assert self._stream is not None
        sent = 0
        while sent < len(data) and not self._stop.is_set():
            n = self._stream.send(data[sent:])
            if n == -2:  # the guest's line is full: a keystroke can wait a moment
                time.sleep(0.01)
                continue
            sent += n

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with contextlib.suppress(libvirt.libvirtError):
            stream.eventRemoveCallback()
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()


class ConsoleUnavailable(Exception):
    """The server has no console to open right now (not running, no connection)."""


def _reason(text: str) -> str:
    return text.encode()[:123].decode(errors="ignore")
