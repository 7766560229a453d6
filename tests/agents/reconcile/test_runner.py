"""The blocking runner: lifecycle events, reconnect after the connection dies, clean stop on SIGTERM.

These run on libvirt's test:///default driver (in-process state shared by every connection), so a
test can both watch the domains and pull the connection out from under the agent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import libvirt
import pytest

from agents.runner import Agent
from controlplane.config import Settings
from controlplane.protocol import HostDesiredState
from tests.agents.reconcile.helpers import domain_state, wait_until
from tests.agents.reconcile.sources import FileSource, MemorySource

TEST_URI = "test:///default"
REPO_ROOT = Path(__file__).resolve().parents[3]


def _settings(run_id: str, tmp_path: Path, *, poll_s: float) -> Settings:
    return Settings(
        libvirt_uri=TEST_URI,
        state_dir=str(tmp_path / "state"),
        storage_pool=run_id,
        storage_pool_path=f"/{run_id}",
        agent_metrics_port=0,
        agent_poll_interval_s=poll_s,
        agent_resync_interval_s=600.0,
        heartbeat_interval_s=0.5,
        stop_timeout_s=1.0,
    )


@pytest.fixture
def start_agent(test_conn, run_id, tmp_path) -> Iterator[Callable[..., Agent]]:
    """Run an Agent.run() loop in a thread; always stopped and joined afterwards."""
    running: list[tuple[Agent, threading.Thread]] = []

    def start(source: MemorySource, *, poll_s: float = 0.2) -> Agent:
        agent = Agent(_settings(run_id, tmp_path, poll_s=poll_s), source, threading.Event())
        thread = threading.Thread(target=agent.run, name="dctest-agent", daemon=True)
        thread.start()
        running.append((agent, thread))
        return agent

    yield start
    for agent, thread in running:
        agent.stop_event.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "agent did not stop on its stop_event"


def test_reconnects_after_the_connection_is_closed_underneath(test_conn, start_agent, make_server) -> None:
    server = make_server(0, "running")
    source = MemorySource([server])
    agent = start_agent(source)
    name = f"dcloud-{server.id}"
    wait_until(lambda: domain_state(test_conn, name) == libvirt.VIR_DOMAIN_RUNNING)
    lost = agent.conn
    assert lost is not None

    lost.close()
    source.set_state(server.id, "stopped")

    wait_until(lambda: domain_state(test_conn, name) == libvirt.VIR_DOMAIN_SHUTOFF)
    assert agent.connections_opened >= 2
    assert agent.conn is not None and agent.conn is not lost
    wait_until(lambda: source.last_state(server.id) == "shutoff")
    # /metrics still serves, from the new connection.
    assert agent.metrics_server is not None
    body = httpx.get(f"http://127.0.0.1:{agent.metrics_server.server_port}/metrics", timeout=5).text
    assert "libvirt_up 1.0" in body


def test_lifecycle_event_triggers_a_prompt_pass(test_conn, start_agent, make_server) -> None:
    server = make_server(0, "running")
    source = MemorySource([server])
    agent = start_agent(source, poll_s=600.0)  # only events can bring the next pass
    name = f"dcloud-{server.id}"
    wait_until(lambda: domain_state(test_conn, name) == libvirt.VIR_DOMAIN_RUNNING)
    wait_until(lambda: len(source.reports) >= 1)

    test_conn.lookupByName(name).suspend()  # someone pauses it behind dcloud's back

    wait_until(lambda: any(not r.full for r in source.reports), timeout_s=5)
    wait_until(lambda: domain_state(test_conn, name) == libvirt.VIR_DOMAIN_RUNNING, timeout_s=5)
    assert agent.connections_opened == 1


def test_an_idle_connected_agent_sleeps_between_its_deadlines(test_conn, start_agent, make_server) -> None:
    server = make_server(0, "running")
    agent = start_agent(MemorySource([server]), poll_s=1.0)
    wait_until(lambda: domain_state(test_conn, f"dcloud-{server.id}") == libvirt.VIR_DOMAIN_RUNNING)
    turns = []
    step = agent.step
    agent.step = lambda: (turns.append(1), step())[-1]  # type: ignore[method-assign]
    threading.Event().wait(2.0)
    # A pass a second and a heartbeat every half second: a handful of turns, not a spin.
    assert len(turns) < 40, f"{len(turns)} loop turns in 2 s"


def test_heartbeats_say_whether_libvirt_is_connected(test_conn, start_agent, make_server) -> None:
    source = MemorySource([make_server(0, "stopped")])
    start_agent(source)
    wait_until(lambda: len(source.heartbeats) >= 2)
    assert all(b.libvirt_uri == TEST_URI for b in source.heartbeats)
    assert source.heartbeats[-1].libvirt_connected is True


def test_run_agent_stops_cleanly_on_sigterm(run_id, make_server, tmp_path) -> None:
    source = FileSource(tmp_path)
    server = make_server(0, "running")
    source.write_desired(HostDesiredState(host="dctest-host", servers=[server]))
    args = [
        sys.executable, "-m", "tests.agents.reconcile.file_agent", "--mode", "runner",
        "--dir", str(tmp_path), "--state-dir", str(tmp_path / "state"), "--uri", TEST_URI,
        "--pool", run_id, "--pool-path", f"/{run_id}",
    ]  # fmt: skip
    proc = subprocess.Popen(args, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: any(s.state == "running" for r in source.reports() for s in r.servers), 20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
