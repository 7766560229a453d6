"""A soft reboot the guest ignores is forced by a reset after the timeout; one it carries out is not.

The guests boot nothing: SeaBIOS ignores the ACPI power button and there is no guest agent, so the
soft request is ignored, as by a hung guest or one whose `shutdown -r` silently fails. A guest that
does reboot is simulated by the test resetting the domain itself within the timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import libvirt
import pytest
from prometheus_client import CollectorRegistry

from agents.events import EventSubscription, Wakeup, start_event_loop
from agents.metrics import AgentMetrics
from agents.runner import Agent as RunningAgent
from agents.soft_reboot import RebootWait, SoftReboots
from controlplane.config import Settings
from controlplane.protocol import DesiredServer, RebootOrder
from tests.agents.reconcile.conftest import QEMU_URI
from tests.agents.reconcile.helpers import domain_state, wait_until
from tests.agents.reconcile.sources import MemorySource

pytestmark = pytest.mark.libvirt

TIMEOUT_S = 2.5
# A stop by the reconciler takes ~3 s here (1 s ACPI wait, then forced off): wait longer than that.
STOP_TEST_TIMEOUT_S = 5.0
FALLBACKS = "dcloud_agent_soft_reboot_fallbacks_total"
_SETTLE_S = 0.5  # one reset gives its REBOOT events within this


class RebootEvents:
    """VIR_DOMAIN_EVENT_ID_REBOOT as libvirt delivers it, counted per domain name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.names: list[str] = []

    def __call__(self, _conn: libvirt.virConnect, dom: libvirt.virDomain, _opaque: object) -> None:
        with self._lock:
            self.names.append(dom.name())

    def count(self, name: str) -> int:
        with self._lock:
            return self.names.count(name)


@pytest.fixture
def events_conn(qemu_conn: libvirt.virConnect) -> Iterator[libvirt.virConnect]:
    """A connection opened after libvirt's event loop runs (qemu_conn cleans up what the test made)."""
    start_event_loop()
    conn = libvirt.open(QEMU_URI)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def reboot_events(events_conn: libvirt.virConnect) -> Iterator[RebootEvents]:
    """On a connection of its own: libvirt tracks one REBOOT callback per connection, the agent's."""
    recorder = RebootEvents()
    conn = libvirt.open(QEMU_URI)
    callback = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, recorder, None)
    try:
        yield recorder
    finally:
        conn.domainEventDeregisterAny(callback)
        conn.close()


class Agent:
    """What the runner wires together: one SoftReboots shared by the driver and the event subscription."""

    def __init__(
        self, conn: libvirt.virConnect, server: DesiredServer, make_reconciler: Callable, timeout_s: float
    ) -> None:
        self.registry = CollectorRegistry()
        metrics = AgentMetrics(self.registry)
        self.waits = SoftReboots(timeout_s, on_forced=metrics.count_soft_reboot_fallback)
        self.subscription = EventSubscription(conn, Wakeup(), self.waits)
        self.subscription.register()
        self.source = MemorySource([server])
        self.reconciler, self.driver = make_reconciler(
            conn, self.source, soft_reboots=self.waits, metrics=metrics
        )
        self.server = server
        self.name = self.driver.domain_name(server.id)

    def order_soft_reboot(self) -> float:
        """The order reaches the agent; returns when its wait ends (monotonic)."""
        self.source.servers[self.server.id] = self.source.servers[self.server.id].model_copy(
            update={"reboot": RebootOrder(seq=1), "generation": self.server.generation + 1}
        )
        self.reconciler.run_once()
        deadline = self.waits.next_deadline()
        assert deadline is not None and self.waits.pending() == {self.server.id}
        return deadline

    def fallbacks(self) -> float:
        return self.registry.get_sample_value(FALLBACKS) or 0.0

    def reboot_mark(self) -> str | None:
        return self.driver._config_metadata(self.driver.conn.lookupByName(self.name)).get("reboot")


@pytest.fixture
def timeout_s() -> float:
    return TIMEOUT_S


@pytest.fixture
def agent(
    events_conn: libvirt.virConnect,
    make_server: Callable[..., DesiredServer],
    make_reconciler: Callable,
    timeout_s: float,
) -> Iterator[Agent]:
    made = Agent(events_conn, make_server(0), make_reconciler, timeout_s)
    try:
        made.reconciler.run_once()  # defined and started
        assert domain_state(events_conn, made.name) == libvirt.VIR_DOMAIN_RUNNING
        yield made
    finally:
        made.subscription.unregister()


def _until(predicate: Callable[[], object], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("timeout_s", [STOP_TEST_TIMEOUT_S])  # room for slow passes on a loaded machine
def test_a_guest_ignoring_the_soft_reboot_is_reset_once_the_timeout_passed(
    agent: Agent, reboot_events: RebootEvents, caplog: pytest.LogCaptureFixture
) -> None:
    deadline = agent.order_soft_reboot()
    while time.monotonic() < deadline - 2.0:  # passes within the timeout only wait (a pass may be slow)
        agent.reconciler.run_once()
        time.sleep(0.2)
    assert reboot_events.count(agent.name) == 0 and agent.fallbacks() == 0
    assert agent.reboot_mark() is None

    # The runner's wakeup: due() names the server once its wait ended, with nothing else changing.
    due: set[str] = set()

    def woken() -> bool:
        due.update(agent.waits.due())
        return bool(due)

    _until(woken, STOP_TEST_TIMEOUT_S + 2)
    assert due == {agent.server.id} and time.monotonic() >= deadline
    with caplog.at_level(logging.WARNING, logger="agents.guest_ops"):
        agent.reconciler.reconcile_servers(due)
    _until(lambda: reboot_events.count(agent.name) >= 1, 5)
    assert agent.fallbacks() == 1 and agent.reboot_mark() == "1" and agent.waits.pending() == set()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [f"server {agent.server.id}: the guest ignored the soft reboot for 5s; resetting it"]

    time.sleep(_SETTLE_S)
    resets = reboot_events.count(agent.name)
    agent.reconciler.run_once()
    time.sleep(_SETTLE_S)
    assert reboot_events.count(agent.name) == resets and agent.fallbacks() == 1
    assert domain_state(agent.driver.conn, agent.name) == libvirt.VIR_DOMAIN_RUNNING


@pytest.mark.parametrize(
    ("desired", "libvirt_state", "mark"),
    [("stopped", libvirt.VIR_DOMAIN_SHUTOFF, "1"), ("suspended", libvirt.VIR_DOMAIN_PAUSED, "1")],
)
@pytest.mark.parametrize("timeout_s", [STOP_TEST_TIMEOUT_S])
def test_a_server_stopped_or_suspended_within_the_timeout_is_not_reset(
    agent: Agent, reboot_events: RebootEvents, desired: str, libvirt_state: int, mark: str | None
) -> None:
    deadline = agent.order_soft_reboot()
    agent.source.set_state(agent.server.id, desired)
    agent.reconciler.run_once()  # the stop forces the guest off after 1 s (no OS to honour ACPI)
    assert time.monotonic() < deadline, "the stop outlasted the soft reboot timeout"
    assert agent.waits.pending() == set()

    _until(lambda: time.monotonic() >= deadline + _SETTLE_S, STOP_TEST_TIMEOUT_S + 2)
    assert agent.waits.due() == set()
    agent.reconciler.run_once()
    time.sleep(_SETTLE_S)
    assert reboot_events.count(agent.name) == 0 and agent.fallbacks() == 0
    assert domain_state(agent.driver.conn, agent.name) == libvirt_state
    # A stopped guest boots fresh anyway: its order is done. A suspended one's order is dropped, so a
    # resume (days later, after a restriction) neither reboots nor resets the guest.
    assert agent.reboot_mark() == mark
    agent.source.set_state(agent.server.id, "running")
    agent.reconciler.run_once()
    resumed = time.monotonic()
    _until(lambda: time.monotonic() >= resumed + agent.waits.timeout_s + _SETTLE_S, STOP_TEST_TIMEOUT_S + 2)
    agent.reconciler.run_once()
    time.sleep(_SETTLE_S)
    assert reboot_events.count(agent.name) == 0 and agent.fallbacks() == 0
    assert domain_state(agent.driver.conn, agent.name) == libvirt.VIR_DOMAIN_RUNNING


def test_a_guest_that_reboots_within_the_timeout_is_not_reset_again(
    agent: Agent, reboot_events: RebootEvents
) -> None:
    deadline = agent.order_soft_reboot()
    agent.driver.conn.lookupByName(agent.name).reset(0)  # the guest carrying out the request
    _until(lambda: reboot_events.count(agent.name) >= 1, 5)  # a reset does emit REBOOT
    _until(lambda: agent.waits.state_of(agent.server.id, 1) == RebootWait.REBOOTED, 5)
    assert time.monotonic() < deadline
    agent.reconciler.run_once()
    assert agent.reboot_mark() == "1" and agent.waits.pending() == set()

    time.sleep(_SETTLE_S)
    resets = reboot_events.count(agent.name)
    _until(lambda: time.monotonic() >= deadline + _SETTLE_S, TIMEOUT_S + 2)
    assert agent.waits.due() == set()
    agent.reconciler.run_once()
    time.sleep(_SETTLE_S)
    assert reboot_events.count(agent.name) == resets and agent.fallbacks() == 0


def test_the_agent_loop_resets_an_ignoring_guest_when_its_wait_ends_not_at_the_next_poll(
    qemu_conn: libvirt.virConnect,
    run_id: str,
    pool_path: str,
    make_server: Callable[..., DesiredServer],
    reboot_events: RebootEvents,
    tmp_path: Path,
) -> None:
    server = make_server(0)
    source = MemorySource([server])
    settings = Settings(
        libvirt_uri=QEMU_URI,
        state_dir=str(tmp_path / "state"),
        storage_pool=run_id,
        storage_pool_path=pool_path,
        agent_metrics_port=0,
        agent_watch=False,
        agent_poll_interval_s=600.0,  # nothing but the wait's own deadline brings the next look
        agent_resync_interval_s=600.0,
        stop_timeout_s=1.0,
        soft_reboot_timeout_s=TIMEOUT_S,
    )
    agent = RunningAgent(settings, source, threading.Event())
    thread = threading.Thread(target=agent.run, name="dctest-agent", daemon=True)
    thread.start()
    try:
        name = f"dcloud-{server.id}"
        wait_until(lambda: domain_state(qemu_conn, name) == libvirt.VIR_DOMAIN_RUNNING, timeout_s=30)
        source.servers[server.id] = server.model_copy(
            update={"reboot": RebootOrder(seq=1), "generation": server.generation + 1}
        )
        ordered = time.monotonic()
        agent.desired_changed()  # what the desired-state watch calls when the order lands
        wait_until(lambda: agent.soft_reboots.pending() == {server.id}, timeout_s=10)
        # Slack for a loaded machine; without the wakeup the reset would wait for the 600 s poll.
        wait_until(lambda: reboot_events.count(name) >= 1, timeout_s=TIMEOUT_S + 20)
        assert TIMEOUT_S <= time.monotonic() - ordered < TIMEOUT_S + 20
        assert agent.metrics_server is not None
        port = agent.metrics_server.server_port
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert f"{FALLBACKS} 1.0" in body.splitlines()
    finally:
        agent.stop_event.set()
        thread.join(timeout=15)
    assert not thread.is_alive(), "agent did not stop on its stop_event"
