"""`run_agent`: the host agent's blocking main loop (used by `dcloud agent` and `dcloud up`).

It serves /metrics, subscribes to libvirt events, watches the control plane's desired state (a long
poll in `agents/watch.py` that asks for a pass as soon as an order lands; `agent_watch`), polls it every
`agent_poll_interval_s` as the fallback, runs a full resync every `agent_resync_interval_s` whatever happens,
heartbeats, and reconnects with backoff when libvirtd goes away. SIGTERM/SIGINT (or a caller's
`stop_event`) end it cleanly, so tests can run it in a thread or a subprocess.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar
from wsgiref.simple_server import WSGIServer

import libvirt

from agents.client import ControlPlaneClient, ControlPlaneRejected, DesiredSource
from agents.console import ConsoleWatch, supports_console
from agents.dispatch import ServerDispatch
from agents.driver import DriverError, LibvirtDriver
from agents.events import EventSubscription, Wakeup, start_event_loop
from agents.faults import step_hook
from agents.host_identity import active_networks, libvirt_host_id
from agents.image_fetch import ImageSource
from agents.journal import DeletionJournal
from agents.metrics import AgentMetrics, LibvirtCollector, start_metrics_server
from agents.reconcile import PassResult, Reconciler
from agents.soft_reboot import SoftReboots
from agents.watch import DesiredWatch, supports_watch
from controlplane.clock import Clock, system_clock
from controlplane.config import Settings
from controlplane.protocol import Heartbeat

log = logging.getLogger(__name__)

# The loop never sleeps longer than this, so a stop request is honoured promptly.
_MAX_SLEEP_S = 0.5
_RECONNECT_MAX_S = 30.0
# Past this many servers named by events (e.g. our own first pass starting 200 domains), a full pass
# with one desired-state request is cheaper than one request per server.
_EVENT_BATCH_LIMIT = 20

OpenConnection = Callable[[str], libvirt.virConnect]
_T = TypeVar("_T")


def run_agent(
    settings: Settings,
    *,
    stop_event: threading.Event | None = None,
    source: DesiredSource | None = None,
    open_connection: OpenConnection = libvirt.open,
    clock: Clock = system_clock,
) -> None:
    """Run the agent until SIGTERM/SIGINT or `stop_event`; `source` defaults to the control plane.
    `clock` stamps deletion records: it must agree with the control plane's (which bounds them)."""
    stop_event = stop_event or threading.Event()
    agent = Agent(settings, source or control_plane_source(settings), stop_event, open_connection, clock)
    with _stop_on_signals(stop_event):
        agent.run()


def control_plane_source(settings: Settings) -> ControlPlaneClient:
    if not settings.token:
        raise ValueError("the agent needs a host token: set DCLOUD_TOKEN (dcloud token create --role agent)")
    return ControlPlaneClient(
        settings.api_url,
        settings.token,
        settings.host_name or socket.gethostname(),
        image_deadline_s=settings.image_fetch_deadline_s,
    )


class Agent:
    """The loop's state: the current connection and everything built on it."""

    def __init__(
        self,
        settings: Settings,
        source: DesiredSource,
        stop_event: threading.Event,
        open_connection: OpenConnection = libvirt.open,
        clock: Clock = system_clock,
    ) -> None:
        self.clock = clock
        self.settings = settings
        self.source = source
        self.stop_event = stop_event
        self._open = open_connection
        self.wakeup = Wakeup()
        self.metrics = AgentMetrics()
        # Kept across reconnects (cleared at each: the gap's REBOOT events are lost; agents/soft_reboot.py).
        self.soft_reboots = SoftReboots(
            settings.soft_reboot_timeout_s, on_forced=self.metrics.count_soft_reboot_fallback
        )
        self.journal = DeletionJournal(
            settings.state_dir, after_step=step_hook(settings.test_agent_crash_point)
        )
        self.dispatch: ServerDispatch[PassResult] = ServerDispatch(
            max_workers=settings.agent_max_parallel, wait_s=settings.agent_pass_wait_s, on_late=self._late
        )
        self.conn: libvirt.virConnect | None = None
        self.reconciler: Reconciler | None = None
        self.metrics_server: WSGIServer | None = None
        self.connections_opened = 0
        self._subscription: EventSubscription | None = None
        self.watch: DesiredWatch | None = None
        self.console_watch: ConsoleWatch | None = None
        # Set by the watch thread: the desired state moved, run a pass now rather than at the next poll.
        self._desired_changed = threading.Event()
        self._backoff_s = 0.5
        self._next = {"resync": 0.0, "poll": 0.0, "heartbeat": 0.0, "connect": 0.0}
        self._host_id: str | None = None
        # Why the control plane refused this agent's claim on its hypervisor (another live agent serves
        # it); while set, the agent converges nothing, so two agents never act on one libvirt.
        self.refused: str | None = None

    def run(self) -> None:
        start_event_loop()  # before any connection is opened, as libvirt requires
        collector = LibvirtCollector(lambda: self.conn, stats_max_age_s=self.settings.agent_stats_max_age_s)
        self.metrics_server = start_metrics_server(
            self.settings.agent_metrics_port, collector, self.metrics, addr=self.settings.agent_metrics_addr
        )
        log.info("agent metrics on port %s", self.metrics_server.server_port)
        try:
            while not self.stop_event.is_set():
                self.step()
        finally:
            if self.watch is not None:
                self.watch.join(0.5)  # a watch in flight ends by itself at its wait_s; don't hold shutdown
            self.dispatch.stop()
            self._disconnect()
            self.metrics_server.shutdown()
            self.metrics_server.server_close()

    def step(self) -> None:
        """One turn of the loop: connect if needed, run what is due, then wait for news or a deadline."""
        now = time.monotonic()
        self._ensure_watch()
        self._ensure_console_watch()
        if self.conn is None and now >= self._next["connect"]:
            self._connect()
        if now >= self._next["heartbeat"]:  # first: a refused claim must stop the pass below
            self._heartbeat()
        if self.conn is not None and self.refused is None:
            self._run_due(now)
        timeout = self._next_deadline() - time.monotonic()
        changed, lost = self.wakeup.wait(min(max(timeout, 0.0), _MAX_SLEEP_S))
        if self.conn is not None:  # a soft reboot wait ended: look at that server now, not at the next poll
            changed |= self.soft_reboots.due()
        if self.conn is not None and (lost or not _alive(self.conn)):
            self._disconnect()
        elif changed and self.reconciler is not None and self.refused is None:
            reconciler = self.reconciler
            if len(changed) > _EVENT_BATCH_LIMIT:  # one listing beats a request per server
                self._guarded(reconciler.run_once)
            else:
                self._guarded(lambda: reconciler.reconcile_servers(changed))

    def _next_deadline(self) -> float:
        """The earliest deadline this turn acts on. One it does not act on stays in the past (`connect`
        once connected, the passes while unconnected or refused) and made the loop wait 0 s: a spin
        that cost every host a core, and slowed its guests."""
        due = [self._next["heartbeat"]]
        if self.conn is None:
            due.append(self._next["connect"])
        elif self.refused is None:
            due += [self._next["resync"], self._next["poll"]]
            reboot_due = self.soft_reboots.next_deadline()
            if reboot_due is not None:
                due.append(reboot_due)
        return min(due)

    def _run_due(self, now: float) -> None:
        assert self.reconciler is not None
        reconciler = self.reconciler
        if now >= self._next["resync"]:
            self._next["resync"] = now + self.settings.agent_resync_interval_s
            self._next["poll"] = now + self.settings.agent_poll_interval_s
            self._desired_changed.clear()  # cleared before the pass: a change during it asks for another
            self._guarded(lambda: reconciler.run_once(resync=True))
        elif self._desired_changed.is_set() or now >= self._next["poll"]:
            self._next["poll"] = now + self.settings.agent_poll_interval_s
            self._desired_changed.clear()
            self._guarded(reconciler.run_once)

    def _late(self, server_id: str, part: PassResult) -> None:
        """A worker finished a step its pass stopped waiting for: report it, then look at that server
        again (an order given meanwhile was skipped while it was busy)."""
        reconciler = self.reconciler
        if reconciler is not None:
            reconciler.report_late(server_id, part)  # a failed report is counted; the next pass resends
        self.wakeup.server_changed(server_id)

    def desired_changed(self) -> None:
        """Called from the watch thread: ask the loop for a full pass right away."""
        self._desired_changed.set()
        self.wakeup.poke()

    def _ensure_watch(self) -> None:
        """Start the watch (again, should its thread ever have died) when enabled and the source has one."""
        if not self.settings.agent_watch or not supports_watch(self.source) or self.stop_event.is_set():
            return
        if self.watch is not None and self.watch.is_alive():
            return
        self.watch = DesiredWatch(
            self.source,  # type: ignore[arg-type]  # supports_watch checked the protocol
            self.desired_changed,
            self.stop_event,
            on_error=lambda: self.metrics.count_error("control_plane"),
        )
        self.watch.start()

    def _ensure_console_watch(self) -> None:
        """Serve console sessions (agents/console.py) once the source can: they share the connection."""
        if not supports_console(self.source) or self.stop_event.is_set():
            return
        if self.console_watch is not None and self.console_watch.is_alive():
            return
        self.console_watch = ConsoleWatch(
            self.source,  # type: ignore[arg-type]  # supports_console checked the protocol
            lambda: self.conn,
            self.stop_event,
        )
        self.console_watch.start()

    def _guarded(self, work: Callable[[], object]) -> None:
        """Run a pass; a failure is counted and logged, and a dead connection is dropped for a reconnect."""
        try:
            work()
        except Exception as exc:
            kind = "libvirt" if isinstance(exc, libvirt.libvirtError | DriverError) else "pass"
            log.error("reconcile pass failed (%s): %s", kind, exc)
            self.metrics.count_error(kind)
            if self.conn is not None and not _alive(self.conn):
                self._disconnect()

    def _connect(self) -> None:
        uri = self.settings.libvirt_uri
        try:
            conn = self._open(uri)
            driver = LibvirtDriver(
                conn,
                pool_name=self.settings.storage_pool,
                pool_path=self.settings.storage_pool_path,
                suspend_mode=self.settings.suspend_mode,
                stop_timeout_s=self.settings.stop_timeout_s,
                domain_type=self.settings.domain_type,
                image_source=self.source if isinstance(self.source, ImageSource) else None,
                image_pool_name=self.settings.image_pool,
                image_pool_path=self.settings.image_pool_path,
                disk_mode=self.settings.image_disk_mode,
                cpu_mode=self.settings.guest_cpu_mode,
                max_vcpus=self.settings.guest_max_vcpus,
                image_min_age_s=self.settings.image_cache_min_age_s,
                image_prune_interval_s=self.settings.image_prune_interval_s,
                soft_reboots=self.soft_reboots,
            )
            driver.ensure_pool()
            subscription = EventSubscription(conn, self.wakeup, self.soft_reboots)
            subscription.register()
        except (libvirt.libvirtError, DriverError) as exc:
            log.warning("cannot connect to %s: %s; retrying in %.1fs", uri, exc, self._backoff_s)
            self.metrics.count_error("libvirt_connect")
            self._next["connect"] = time.monotonic() + self._backoff_s
            self._backoff_s = min(self._backoff_s * 2, _RECONNECT_MAX_S)
            return
        self.conn, self._subscription = conn, subscription
        self.soft_reboots.forget_all()  # each is asked again, softly, with a fresh wait
        self.reconciler = Reconciler(
            driver, self.source, self.journal, self.metrics, clock=self.clock, dispatch=self.dispatch
        )
        self.connections_opened += 1
        self._backoff_s = 0.5
        self._next["resync"] = 0.0  # whatever happened while we were away, look at everything
        self._next["heartbeat"] = 0.0  # claim this hypervisor before the first pass acts on it
        self._host_id = _quietly(lambda: libvirt_host_id(conn))
        log.info("connected to %s", uri)

    def _disconnect(self) -> None:
        if self._subscription is not None:
            self._subscription.unregister()
        if self.conn is not None:
            with contextlib.suppress(libvirt.libvirtError):
                self.conn.close()
        self.conn, self.reconciler, self._subscription = None, None, None

    def _heartbeat(self) -> None:
        self._next["heartbeat"] = time.monotonic() + self.settings.heartbeat_interval_s
        conn = self.conn
        beat = Heartbeat(
            libvirt_uri=self.settings.libvirt_uri,
            libvirt_connected=conn is not None,
            libvirt_host_id=self._host_id if conn is not None else None,
            networks=_quietly(lambda: active_networks(conn)) if conn is not None else None,
        )
        try:
            self.source.heartbeat(beat)
        except ControlPlaneRejected as exc:
            if exc.status_code == 409:
                self._refuse(str(exc))
                return
            log.warning("heartbeat failed: %s", exc)
            self.metrics.count_error("control_plane")
        except Exception as exc:
            log.warning("heartbeat failed: %s", exc)
            self.metrics.count_error("control_plane")
        else:
            if self.refused is not None:
                log.info("the control plane accepts this agent for %s again; converging", self._host_id)
            self.refused = None

    def _refuse(self, reason: str) -> None:
        """Logged once per distinct refusal (the heartbeat repeats it every interval)."""
        if reason != self.refused:
            log.error("not converging this host: %s", reason)
        self.refused = reason
        self.metrics.count_error("hypervisor_claimed")


def _quietly(probe: Callable[[], _T]) -> _T | None:
    """A best-effort libvirt read for the heartbeat: a failure leaves the field unknown."""
    try:
        return probe()
    except libvirt.libvirtError:
        return None


def _alive(conn: libvirt.virConnect) -> bool:
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:  # closed underneath us
        return False


@contextlib.contextmanager
def _stop_on_signals(stop_event: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set stop_event (only possible from the main thread; elsewhere the caller stops us)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda _signum, _frame: stop_event.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
