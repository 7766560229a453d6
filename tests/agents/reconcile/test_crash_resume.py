"""kill -9 the agent at every step of a delete; the restarted agent finishes it exactly once.

The agent runs as a subprocess (tests/agents/reconcile/file_agent.py) over a file-backed desired
source; `--crash-after` injects a journal hook that makes it SIGKILL itself right after the named step.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agents.journal import (
    REPORT_SENT,
    STEP_DESTROY,
    STEP_WIPE,
    STEPS,
    DeletionJournal,
)
from controlplane.protocol import DesiredState, HostDesiredState
from tests.agents.reconcile.helpers import domain_state
from tests.agents.reconcile.sources import FileSource

pytestmark = pytest.mark.libvirt

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA = b"\xcd" * (2 * 1024 * 1024)
WIPE_LOG = "agents.deletion INFO wiped "


class AgentProcess:
    """Runs file_agent.py passes against one FileSource directory and state dir."""

    def __init__(self, tmp_path: Path, pool: str, pool_path: str) -> None:
        self.source = FileSource(tmp_path)
        self.state_dir = tmp_path / "state"
        self.args = [
            sys.executable, "-m", "tests.agents.reconcile.file_agent",
            "--dir", str(tmp_path), "--state-dir", str(self.state_dir),
            "--pool", pool, "--pool-path", pool_path,
        ]  # fmt: skip
        self.stderr: list[str] = []

    def run(self, crash_after: str | None = None) -> int:
        args = self.args if crash_after is None else [*self.args, "--crash-after", crash_after]
        done = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
        self.stderr.append(done.stderr)
        return done.returncode

    def wipes_logged(self) -> int:
        return sum(err.count(WIPE_LOG) for err in self.stderr)


def _read_head(path: str, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


@pytest.fixture
def deleting_server(qemu_conn, run_id, pool_path, make_server, tmp_path):
    """A defined (stopped) server with data on its disk, now desired deleted; returns (agent, server, vol)."""
    agent = AgentProcess(tmp_path, run_id, pool_path)
    server = make_server(0, "stopped")
    agent.source.write_desired(HostDesiredState(host="dctest-host", servers=[server]))
    assert agent.run() == 0, agent.stderr[-1]
    vol_path = (
        qemu_conn.storagePoolLookupByName(run_id).storageVolLookupByName(f"dcloud-{server.id}-disk0").path()
    )
    with open(vol_path, "r+b") as f:
        f.write(DATA)
        os.fsync(f.fileno())
    deleted = server.model_copy(update={"desired_state": DesiredState.DELETED, "generation": 2})
    agent.source.write_desired(HostDesiredState(host="dctest-host", servers=[deleted]))
    return agent, deleted, vol_path


@pytest.mark.parametrize("crash_after", STEPS)
def test_delete_killed_at_any_step_finishes_exactly_once(qemu_conn, deleting_server, crash_after) -> None:
    agent, server, vol_path = deleting_server

    assert agent.run(crash_after=crash_after) == -signal.SIGKILL
    assert agent.run() == 0, agent.stderr[-1]

    assert domain_state(qemu_conn, f"dcloud-{server.id}") is None
    assert not os.path.exists(vol_path)
    deletions = [d for r in agent.source.reports() for d in r.deletions]
    assert len(deletions) == 1, deletions
    (volume,) = deletions[0].volumes
    assert volume.name == f"dcloud-{server.id}-disk0"
    assert volume.bytes_overwritten >= len(DATA)
    assert agent.wipes_logged() == 1
    assert DeletionJournal(agent.state_dir).entries() == []
    # A later pass (the control plane no longer lists the server) changes nothing and reports no more.
    assert agent.run() == 0
    assert sum(len(r.deletions) for r in agent.source.reports()) == 1
    assert agent.wipes_logged() == 1


def test_killed_between_destroy_and_wipe_leaves_data_until_resumed(qemu_conn, deleting_server) -> None:
    agent, server, vol_path = deleting_server

    assert agent.run(crash_after=STEP_DESTROY) == -signal.SIGKILL

    entry = DeletionJournal(agent.state_dir).load(server.id)
    assert entry is not None and entry.done(STEP_DESTROY) and entry.wiped == {}
    assert domain_state(qemu_conn, f"dcloud-{server.id}") is None
    assert _read_head(vol_path, len(DATA)) == DATA
    assert agent.run() == 0
    assert agent.wipes_logged() == 1
    assert not os.path.exists(vol_path)


def test_killed_after_wipe_resumes_without_wiping_again(qemu_conn, deleting_server) -> None:
    agent, server, vol_path = deleting_server

    assert agent.run(crash_after=STEP_WIPE) == -signal.SIGKILL

    entry = DeletionJournal(agent.state_dir).load(server.id)
    assert entry is not None and list(entry.wiped) == [f"dcloud-{server.id}-disk0"]
    assert _read_head(vol_path, len(DATA)) == bytes(len(DATA))  # wiped, not yet deleted
    assert agent.run() == 0
    assert agent.wipes_logged() == 1
    (report,) = [d for r in agent.source.reports() for d in r.deletions]
    # The report is the journaled one: same start time as the pass that was killed.
    assert report.started_at == entry.started_at
    assert report.volumes[0].bytes_overwritten == entry.wiped[report.volumes[0].name].bytes_overwritten


def test_report_sent_but_not_acknowledged_is_not_sent_twice(deleting_server) -> None:
    agent, server, _vol_path = deleting_server

    assert agent.run(crash_after=REPORT_SENT) == -signal.SIGKILL
    assert DeletionJournal(agent.state_dir).load(server.id) is not None
    assert agent.run() == 0

    assert sum(len(r.deletions) for r in agent.source.reports()) == 1
    assert DeletionJournal(agent.state_dir).entries() == []
