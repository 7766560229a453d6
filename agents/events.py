"""libvirt events for the agent: lifecycle changes wake the loop, a closed connection triggers a reconnect.

A guest's reboot (the REBOOT event: a reset, from inside or ours) and its domain stopping or starting
also end a soft reboot wait (agents/soft_reboot.py).

Callbacks run on libvirt's event-loop thread, so they never call libvirt themselves; they only
record which server changed and wake the agent's loop (`Wakeup`), which does the work.
"""

from __future__ import annotations

import logging
import threading

import libvirt

from agents.domain_xml import parse_server_id
from agents.soft_reboot import SoftReboots

log = logging.getLogger(__name__)

_loop_lock = threading.Lock()
_loop_thread: threading.Thread | None = None


def start_event_loop() -> threading.Thread:
    """Register libvirt's default event implementation once per process and run it in a daemon thread.

    Must run before the connections whose events we want are opened (libvirt's rule).
    """
    global _loop_thread
    with _loop_lock:
        if _loop_thread is None or not _loop_thread.is_alive():
            libvirt.virEventRegisterDefaultImpl()
            _loop_thread = threading.Thread(target=_run_loop, name="libvirt-events", daemon=True)
            _loop_thread.start()
        return _loop_thread


def _run_loop() -> None:
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except libvirt.libvirtError:  # one bad dispatch must not end event delivery for good
            log.exception("libvirt event loop iteration failed")


class Wakeup:
    """What the agent loop should look at next: some servers, or the connection being gone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._servers: set[str] = set()
        self._connection_lost = False

    def server_changed(self, server_id: str) -> None:
        with self._lock:
            self._servers.add(server_id)
        self._event.set()

    def connection_lost(self) -> None:
        with self._lock:
            self._connection_lost = True
        self._event.set()

    def poke(self) -> None:
        """Wake the loop without news (used on shutdown)."""
        self._event.set()

    def wait(self, timeout_s: float) -> tuple[set[str], bool]:
        """Block up to timeout_s; return (changed servers, connection lost) and reset both."""
        self._event.wait(max(0.0, timeout_s))
        with self._lock:
            self._event.clear()
            servers, self._servers = self._servers, set()
            lost, self._connection_lost = self._connection_lost, False
        return servers, lost


# A domain that stopped or started counts as rebooted for a soft reboot order.
_REBOOTING_LIFECYCLE = frozenset({libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STARTED})


class EventSubscription:
    """Lifecycle, reboot and close callbacks on one connection; re-created after every reconnect."""

    def __init__(
        self, conn: libvirt.virConnect, wakeup: Wakeup, soft_reboots: SoftReboots | None = None
    ) -> None:
        self._conn = conn
        self._wakeup = wakeup
        self._soft_reboots = soft_reboots
        self._callback_id: int | None = None
        self._reboot_callback_id: int | None = None
        self._close_registered = False

    def register(self, *, keepalive_interval_s: int = 5, keepalive_count: int = 3) -> None:
        # Keepalive lets a silently dead libvirtd be noticed (close callback, reason KEEPALIVE).
        try:
            self._conn.setKeepAlive(keepalive_interval_s, keepalive_count)
        except libvirt.libvirtError:  # local drivers such as test:/// have no keepalive
            log.debug("keepalive not supported on %s", self._conn.getURI())
        self._callback_id = self._conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None
        )
        self._reboot_callback_id = self._conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, self._on_reboot, None
        )
        try:
            self._conn.registerCloseCallback(self._on_close, None)
            self._close_registered = True
        except libvirt.libvirtError:  # drivers that never close underneath us do not support it
            log.debug("close callback not supported on %s", self._conn.getURI())

    def unregister(self) -> None:
        """Best effort: on a dead connection there is nothing left to unregister from."""
        try:
            if self._callback_id is not None:
                self._conn.domainEventDeregisterAny(self._callback_id)
            if self._reboot_callback_id is not None:
                self._conn.domainEventDeregisterAny(self._reboot_callback_id)
            if self._close_registered:
                self._conn.unregisterCloseCallback()
        except libvirt.libvirtError:
            pass
        self._callback_id = None
        self._reboot_callback_id = None
        self._close_registered = False

    def _on_lifecycle(
        self, _conn: libvirt.virConnect, dom: libvirt.virDomain, event: int, detail: int, _opaque: object
    ) -> None:
        server_id = parse_server_id(dom.name())
        if server_id is not None:
            log.debug("lifecycle event %s/%s on %s", event, detail, dom.name())
            if event in _REBOOTING_LIFECYCLE and self._soft_reboots is not None:
                self._soft_reboots.guest_rebooted(server_id)
            self._wakeup.server_changed(server_id)

    def _on_reboot(self, _conn: libvirt.virConnect, dom: libvirt.virDomain, _opaque: object) -> None:
        server_id = parse_server_id(dom.name())
        if server_id is not None:
            log.debug("reboot event on %s", dom.name())
            if self._soft_reboots is not None:
                self._soft_reboots.guest_rebooted(server_id)
            self._wakeup.server_changed(server_id)

    def _on_close(self, _conn: libvirt.virConnect, reason: int, _opaque: object) -> None:
        log.warning("libvirt connection closed (reason %s); reconnecting", reason)
        self._wakeup.connection_lost()
