"""A console session through dcloud's WebSocket, for tests: collects output, waits for text, types.

It also logs in on a serial getty and runs a command, which is how the e2e tests look inside a guest
(no traffic to the guest's address).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


class Typist(Protocol):
    def send(self, data: bytes) -> None: ...

    def wait_for(self, needle: bytes, timeout_s: float, *, after: int = 0) -> int: ...

    def text(self) -> str: ...

    def raw(self) -> bytes: ...


class ConsoleSocket:
    """Reads the console WebSocket in a thread into a buffer; `send` types into the guest."""

    def __init__(self, url: str) -> None:
        self._exit = contextlib.ExitStack()  # websockets wants its connection used as a context manager
        self.ws: ClientConnection = self._exit.enter_context(connect(url, open_timeout=15))
        self.data = bytearray()
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                chunk = message.encode() if isinstance(message, str) else message
                with self.lock:
                    self.data.extend(chunk)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def text(self) -> str:
        with self.lock:
            return self.data.decode(errors="replace")

    def raw(self) -> bytes:
        with self.lock:
            return bytes(self.data)

    def send(self, data: bytes) -> None:
        self.ws.send(data)

    def wait_for(self, needle: bytes, timeout_s: float, *, after: int = 0) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                found = self.data.find(needle, after)
            if found >= 0:
                return found + len(needle)
            if self.closed.is_set():
                break
            time.sleep(0.1)
        reason = self.ws.close_reason if self.closed.is_set() else None
        tail = self.text()[-2000:]
        raise AssertionError(f"console never showed {needle!r} (closed: {reason!r}); last output:\n{tail}")

    def close(self) -> None:
        self._exit.close()
        self._reader.join(5)


def login_and_run(
    console: Typist,
    *,
    user: str,
    password: str,
    command: str,
    timeout_s: float = 240.0,
    when_prompted: Callable[[], None] | None = None,
    after: int = 0,
) -> str:
    """Logs in at the serial getty and returns what `command` printed (between two markers); `after`
    skips the console's earlier output (a login prompt of a previous boot)."""
    console.send(b"\r")
    at = console.wait_for(b"login: ", timeout_s, after=after)
    if when_prompted is not None:
        when_prompted()
    console.send(user.encode() + b"\r")
    at = console.wait_for(b"Password: ", 60, after=at)
    console.send(password.encode() + b"\r")
    at = console.wait_for(b"# ", 120, after=at)
    # The markers are printed by the shell, so the echo of the typed line never matches them.
    console.send(f"echo DC''BEGIN; {command}; echo DC''END\r".encode())
    start = console.wait_for(b"DCBEGIN\r\n", 120, after=at)
    end = console.wait_for(b"DCEND", 120, after=start)
    return console.raw()[start : end - len(b"DCEND")].decode(errors="replace")
