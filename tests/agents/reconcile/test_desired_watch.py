"""The agent's desired-state watch (agents/watch.py): wakes the loop on a new version only, backs off
while the control plane fails and picks up what changed meanwhile, and makes the runner act at once
even with a poll interval of ten minutes (on libvirt's test:///default driver)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest

from agents.client import ControlPlaneUnavailable
from agents.runner import Agent
from agents.watch import DesiredWatch, supports_watch
from controlplane.config import Settings
from controlplane.protocol import HostDesiredState
from tests.agents.reconcile.helpers import domain_state, wait_until
from tests.agents.reconcile.sources import MemorySource

Step = str | Exception


class ScriptedWatch:
    """A watch source answering from a script; when it runs out it waits like an idle long poll."""

    def __init__(self, script: list[Step], desired_version: str | None = None) -> None:
        self.script = list(script)
        self.desired_version = desired_version
        self.calls: list[tuple[str, float]] = []  # (since, monotonic time of the call)
        self.idle = threading.Event()

    def watch(self, since: str, wait_s: float) -> str:
        self.calls.append((since, time.monotonic()))
        if not self.script:
            self.idle.set()
            time.sleep(min(wait_s, 0.05))
            return since
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


class WatchableMemorySource(MemorySource):
    """MemorySource with a version that moves on every change, and a real blocking long poll."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._changed = threading.Condition()
        self.version = 1
        self.desired_version: str | None = None

    def change(self, server_id: str, state: str) -> None:
        with self._changed:
            self.set_state(server_id, state)
            self.version += 1
            self._changed.notify_all()

    def desired(self) -> HostDesiredState:
        self.desired_version = str(self.version)
        return super().desired()

    def watch(self, since: str, wait_s: float) -> str:
        with self._changed:
            self._changed.wait_for(lambda: str(self.version) != since, timeout=wait_s)
            return str(self.version)


Running = tuple[DesiredWatch, list[float], list[int], threading.Event]


def _run(source: ScriptedWatch, **kwargs: float) -> Running:
    changes: list[float] = []
    errors: list[int] = []
    stop = threading.Event()
    watch = DesiredWatch(
        source,
        lambda: changes.append(time.monotonic()),
        stop,
        on_error=lambda: errors.append(1),
        wait_s=0.2,
        **kwargs,
    )
    watch.start()
    return watch, changes, errors, stop


def test_only_a_new_version_wakes_the_loop() -> None:
    source = ScriptedWatch(["v1", "v1", "v2", "v2"], desired_version="v1")
    watch, changes, _, stop = _run(source)
    assert source.idle.wait(5)
    stop.set()
    watch.join(2)
    assert len(changes) == 1  # v1 -> v1 is the idle timeout, v1 -> v2 the one change
    assert [since for since, _ in source.calls[:4]] == ["v1", "v1", "v1", "v2"]
    assert not watch.is_alive()


def test_before_the_first_fetch_the_watch_starts_from_nothing_and_asks_for_a_pass() -> None:
    source = ScriptedWatch(["v7"])
    watch, changes, _, stop = _run(source)
    assert source.idle.wait(5)
    stop.set()
    watch.join(2)
    assert source.calls[0][0] == "" and len(changes) == 1


def test_failures_back_off_and_the_change_made_meanwhile_is_seen_on_recovery() -> None:
    down = ControlPlaneUnavailable("test: control plane down")
    source = ScriptedWatch([down, down, down, down, "v2", down], desired_version="v1")
    watch, changes, errors, stop = _run(source, backoff_start_s=0.05, backoff_max_s=0.2)
    assert source.idle.wait(10)
    stop.set()
    watch.join(2)
    gaps = [later - earlier for (_, earlier), (_, later) in zip(source.calls, source.calls[1:], strict=False)]
    # Waits of 0.05, 0.1, 0.2, 0.2 (capped) after the four failures, none after the answer, and 0.05
    # again after the next failure: the backoff starts over once the control plane is back.
    assert gaps[0] >= 0.045 and gaps[1] >= 0.095 and gaps[2] >= 0.19 and 0.19 <= gaps[3] < 0.35
    assert gaps[4] < 0.1 and 0.045 <= gaps[5] < 0.15
    assert len(errors) == 5 and watch.failures == 5
    assert len(changes) == 1 and source.calls[5][0] == "v2"  # v1 -> v2 arrived once, then watched from v2


def test_a_stopped_watch_ends_even_while_backing_off() -> None:
    source = ScriptedWatch([ControlPlaneUnavailable("down")] * 3, desired_version="v1")
    watch, _, _, stop = _run(source, backoff_start_s=30.0)
    wait_until(lambda: len(source.calls) >= 1)
    stop.set()
    watch.join(2)
    assert not watch.is_alive()


def test_sources_without_a_watch_are_not_watched() -> None:
    assert not supports_watch(MemorySource())
    assert supports_watch(WatchableMemorySource())


def _settings(run_id: str, tmp_path: Path, *, watch: bool) -> Settings:
    return Settings(
        libvirt_uri="test:///default",
        state_dir=str(tmp_path / "state"),
        storage_pool=run_id,
        storage_pool_path=f"/{run_id}",
        agent_metrics_port=0,
        agent_poll_interval_s=600.0,
        agent_resync_interval_s=600.0,
        heartbeat_interval_s=5.0,
        stop_timeout_s=1.0,
        agent_watch=watch,
    )


@pytest.fixture
def start_agent(test_conn, run_id, tmp_path) -> Iterator[Callable[..., Agent]]:
    running: list[tuple[Agent, threading.Thread]] = []

    def start(source: MemorySource, *, watch: bool) -> Agent:
        agent = Agent(_settings(run_id, tmp_path, watch=watch), source, threading.Event())
        thread = threading.Thread(target=agent.run, name="dctest-agent", daemon=True)
        thread.start()
        running.append((agent, thread))
        return agent

    yield start
    for agent, thread in running:
        agent.stop_event.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "agent did not stop on its stop_event"


def _settle(conn: libvirt.virConnect, source: MemorySource, name: str) -> None:
    """Running, and the passes our own start events asked for are over (they would see an order too)."""
    wait_until(lambda: domain_state(conn, name) == libvirt.VIR_DOMAIN_RUNNING)
    wait_until(lambda: any(not r.full for r in source.reports))
    time.sleep(0.5)


@pytest.mark.libvirt
def test_with_a_ten_minute_poll_an_order_reaches_libvirt_at_once(test_conn, start_agent, make_server) -> None:
    server = make_server(0, "running")
    source = WatchableMemorySource([server])
    agent = start_agent(source, watch=True)
    name = f"dcloud-{server.id}"
    _settle(test_conn, source, name)
    assert agent.watch is not None
    seen = agent.watch.changes_seen

    ordered = time.monotonic()
    source.change(server.id, "suspended")
    wait_until(lambda: domain_state(test_conn, name) == libvirt.VIR_DOMAIN_PAUSED, timeout_s=3)
    assert time.monotonic() - ordered < 3
    assert agent.watch.changes_seen == seen + 1


@pytest.mark.libvirt
def test_with_the_watch_off_the_order_waits_for_the_poll(test_conn, start_agent, make_server) -> None:
    server = make_server(0, "running")
    source = WatchableMemorySource([server])
    agent = start_agent(source, watch=False)
    name = f"dcloud-{server.id}"
    _settle(test_conn, source, name)

    source.change(server.id, "suspended")
    time.sleep(1.5)
    assert domain_state(test_conn, name) == libvirt.VIR_DOMAIN_RUNNING
    assert agent.watch is None
