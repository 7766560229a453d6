"""The agent works on servers in parallel: a slow stop of one server holds up no order for another, each
server gets one step at a time, and the number of servers worked on at once is bounded per host.

On libvirt's test:///default driver, whose shutdown is instant; the slow step is injected by holding one
server's stop until the test releases it (what a guest ignoring ACPI for 60 s does to a real stop).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest

from agents.runner import Agent
from controlplane.config import Settings
from tests.agents.reconcile.helpers import domain_state, wait_until
from tests.agents.reconcile.sources import MemorySource


class HeldStops:
    """Wraps a driver's stop: the servers named in `held` block inside it until `release()`."""

    def __init__(self, held: set[str]) -> None:
        self.held = held
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.calls: list[str] = []
        self.running = 0
        self.most_at_once = 0

    def install(self, agent: Agent) -> None:
        wait_until(lambda: agent.reconciler is not None)
        assert agent.reconciler is not None
        driver = agent.reconciler.driver
        real_stop = driver.stop

        def stop(server_id: str) -> None:
            with self._lock:
                self.calls.append(server_id)
                self.running += 1
                self.most_at_once = max(self.most_at_once, self.running)
            try:
                if server_id in self.held:
                    self._release.wait(30)
                real_stop(server_id)
            finally:
                with self._lock:
                    self.running -= 1

        driver.stop = stop  # type: ignore[method-assign]

    def in_stop(self, server_id: str) -> bool:
        with self._lock:
            return server_id in self.calls

    def release(self) -> None:
        self._release.set()


@pytest.fixture
def start_agent(test_conn, run_id: str, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    running: list[tuple[Agent, threading.Thread]] = []

    def start(source: MemorySource, *, max_parallel: int = 4) -> Agent:
        settings = Settings(
            libvirt_uri="test:///default",
            state_dir=str(tmp_path / "state"),
            storage_pool=run_id,
            storage_pool_path=f"/{run_id}",
            agent_metrics_port=0,
            agent_poll_interval_s=0.2,
            agent_resync_interval_s=600.0,
            agent_max_parallel=max_parallel,
            agent_pass_wait_s=0.5,
            heartbeat_interval_s=5.0,
        )
        agent = Agent(settings, source, threading.Event())
        thread = threading.Thread(target=agent.run, name="dctest-agent", daemon=True)
        thread.start()
        running.append((agent, thread))
        return agent

    yield start
    for agent, thread in running:
        agent.stop_event.set()
        thread.join(timeout=15)


def _running(conn: libvirt.virConnect, source: MemorySource, *server_ids: str) -> None:
    for server_id in server_ids:
        wait_until(lambda sid=server_id: domain_state(conn, f"dcloud-{sid}") == libvirt.VIR_DOMAIN_RUNNING)
        wait_until(lambda sid=server_id: source.last_state(sid) == "running")


def test_a_slow_stop_does_not_hold_up_a_suspend_of_another_server(
    test_conn, start_agent, make_server
) -> None:
    slow, other = make_server(0), make_server(1)
    source = MemorySource([slow, other])
    agent = start_agent(source)
    _running(test_conn, source, slow.id, other.id)
    stops = HeldStops({slow.id})
    stops.install(agent)

    source.set_state(slow.id, "stopped")
    wait_until(lambda: stops.in_stop(slow.id))
    source.set_state(other.id, "suspended")

    wait_until(lambda: domain_state(test_conn, f"dcloud-{other.id}") == libvirt.VIR_DOMAIN_PAUSED, 5)
    wait_until(lambda: source.last_state(other.id) == "paused", 5)
    assert domain_state(test_conn, f"dcloud-{slow.id}") == libvirt.VIR_DOMAIN_RUNNING  # still stopping
    stops.release()
    wait_until(lambda: domain_state(test_conn, f"dcloud-{slow.id}") == libvirt.VIR_DOMAIN_SHUTOFF)
    wait_until(lambda: source.last_state(slow.id) == "shutoff")  # the late step reported itself


def test_a_busy_server_gets_no_second_step_and_an_order_given_meanwhile_follows(
    test_conn, start_agent, make_server
) -> None:
    server = make_server(0)
    source = MemorySource([server])
    agent = start_agent(source)
    _running(test_conn, source, server.id)
    stops = HeldStops({server.id})
    stops.install(agent)

    source.set_state(server.id, "stopped")
    wait_until(lambda: stops.in_stop(server.id))
    source.set_state(server.id, "running")  # ordered while the stop is still under way
    wait_until(lambda: len(source.reports) >= 8)  # several passes went by meanwhile
    busy = [o for r in source.reports[-3:] for o in r.servers if o.id == server.id]
    assert busy and all(o.detail and o.detail.startswith("busy") for o in busy)
    assert stops.calls == [server.id]  # one step at a time: no second stop was started

    stops.release()
    wait_until(lambda: domain_state(test_conn, f"dcloud-{server.id}") == libvirt.VIR_DOMAIN_RUNNING)
    wait_until(lambda: source.last_state(server.id) == "running")


def test_no_more_servers_than_the_bound_are_worked_on_at_once(test_conn, start_agent, make_server) -> None:
    servers = [make_server(n) for n in range(3)]
    source = MemorySource(servers)
    agent = start_agent(source, max_parallel=2)
    _running(test_conn, source, *(s.id for s in servers))
    stops = HeldStops({s.id for s in servers})
    stops.install(agent)

    for server in servers:
        source.set_state(server.id, "stopped")
    wait_until(lambda: len(stops.calls) == 2)
    wait_until(lambda: len(source.reports) >= 6)
    assert len(stops.calls) == 2  # the third waits for a free worker
    stops.release()
    for server in servers:
        wait_until(
            lambda sid=server.id: domain_state(test_conn, f"dcloud-{sid}") == libvirt.VIR_DOMAIN_SHUTOFF
        )
    assert stops.most_at_once == 2
