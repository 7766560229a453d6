"""Soft reboots waited on (Nova's `wait_soft_reboot_seconds`): a guest not rebooted in time is reset.

A soft reboot is only a request. A guest agent may accept it and the guest run on (its `shutdown -r`
needs a logind the image lacks); a hung guest, or one without ACPI, ignores the power button. So each
request is remembered here, per server, with when it went out; libvirt's REBOOT event, or the domain
stopping or starting, says the guest really rebooted (`agents/events.py` reports both).

The waits are in memory only. The reboot mark (`agents/guest_ops.py`) is written once the reboot is
seen or forced, never at the request, so an agent that restarts mid-wait finds the order not carried
out and asks the guest softly again, with a fresh wait: at least one reboot, never zero, and never a
reset before a full wait (a guest that did reboot just before the restart gets a second clean reboot,
not a reset). A reconnect to libvirtd forgets the waits the same way, since REBOOT events of the gap
are lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_TIMEOUT_S = 120.0  # Nova's wait_soft_reboot_seconds


class RebootWait(StrEnum):
    NONE = "none"  # no soft request out for this order: send one
    WAITING = "waiting"
    REBOOTED = "rebooted"  # the guest rebooted (or stopped/started) since the request
    EXPIRED = "expired"  # the timeout passed without a reboot: reset it


@dataclass
class _Wait:
    seq: int
    since: float
    rebooted: bool = False
    woken: bool = False  # due() already named it once


class SoftReboots:
    """Thread-safe: requests and checks come from reconcile workers, reboots from libvirt's event thread."""

    def __init__(
        self,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        on_forced: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout_s < 0:
            raise ValueError(f"soft reboot timeout must be >= 0, not {timeout_s}")
        self.timeout_s = timeout_s
        self._on_forced = on_forced
        self._clock = clock
        self._lock = threading.Lock()
        self._waits: dict[str, _Wait] = {}

    def requested(self, server_id: str, seq: int) -> None:
        """A soft request for reboot order `seq` is about to go out (before it, so no reboot is missed)."""
        with self._lock:
            self._waits[server_id] = _Wait(seq=seq, since=self._clock())

    def state_of(self, server_id: str, seq: int) -> RebootWait:
        with self._lock:
            wait = self._waits.get(server_id)
            if wait is None or wait.seq != seq:
                return RebootWait.NONE
            if wait.rebooted:
                return RebootWait.REBOOTED
            if self._clock() - wait.since >= self.timeout_s:
                return RebootWait.EXPIRED
            return RebootWait.WAITING

    def guest_rebooted(self, server_id: str) -> None:
        """From a libvirt event: the guest reset, or its domain stopped or started. No wait, no effect."""
        with self._lock:
            wait = self._waits.get(server_id)
            if wait is not None:
                wait.rebooted = True

    def forced(self, server_id: str) -> None:
        """The guest ignored its request and was reset: counted, and the wait is over."""
        self.forget(server_id)
        self._on_forced()

    def forget(self, server_id: str) -> None:
        with self._lock:
            self._waits.pop(server_id, None)

    def forget_all(self) -> None:
        with self._lock:
            self._waits.clear()

    def prune(self, keep: Iterable[str]) -> None:
        """Drop the waits of servers the control plane no longer lists."""
        kept = set(keep)
        with self._lock:
            for server_id in self._waits.keys() - kept:
                del self._waits[server_id]

    def pending(self) -> set[str]:
        with self._lock:
            return set(self._waits)

    def next_deadline(self) -> float | None:
        """The earliest end of a wait that due() has not named yet (in the clock's time), if any."""
        with self._lock:
            ends = [w.since + self.timeout_s for w in self._waits.values() if not (w.woken or w.rebooted)]
        return min(ends, default=None)

    def due(self) -> set[str]:
        """Servers whose wait has just ended, each named once, so the loop looks at them without spinning."""
        now = self._clock()
        named: set[str] = set()
        with self._lock:
            for server_id, wait in self._waits.items():
                if not (wait.woken or wait.rebooted) and now - wait.since >= self.timeout_s:
                    wait.woken = True
                    named.add(server_id)
        return named
