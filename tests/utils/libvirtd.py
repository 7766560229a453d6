"""Restart the shared libvirtd the way scripts/setup-host.sh runs it (no systemd: `libvirtd -d`).

Tests that restart it always leave it running for the others: `restart_libvirtd` waits until the new
daemon answers, and `libvirtd_left_running` (a context for fixtures) starts it again when a test failed
halfway. The old daemon is signalled by its pid (pgrep -x), never by a pattern.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

URI = "qemu:///system"
_WAIT_S = 30.0


class LibvirtdDidNotRestart(AssertionError):
    """libvirtd did not stop, or did not answer again, within the wait."""


def libvirtd_answers(uri: str = URI) -> bool:
    done = subprocess.run(["virsh", "-c", uri, "version"], capture_output=True, check=False)
    return done.returncode == 0


def libvirtd_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split()]


def start_libvirtd(uri: str = URI) -> None:
    """Start the daemon if none runs, as setup-host.sh does, and wait until it answers."""
    if not libvirtd_pids():
        subprocess.run(["libvirtd", "-d"], check=True)
    _wait(lambda: libvirtd_answers(uri), "libvirtd to answer")


def restart_libvirtd(uri: str = URI) -> None:
    """SIGTERM the running daemon, wait for it to exit, start a new one, wait until it answers."""
    for pid in libvirtd_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    _wait(lambda: not libvirtd_pids(), "libvirtd to exit")
    start_libvirtd(uri)


@contextlib.contextmanager
def libvirtd_left_running(uri: str = URI) -> Iterator[None]:
    """Whatever happens inside, libvirtd runs and answers afterwards."""
    try:
        yield
    finally:
        if not libvirtd_answers(uri):
            start_libvirtd(uri)


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise LibvirtdDidNotRestart(f"timed out after {_WAIT_S:.0f}s waiting for {what}")
        time.sleep(0.1)
