"""A real libvirtd restart: the agent reconnects and re-registers its lifecycle callback.

Polling is switched off (10 minutes), so the only way the agent can undo a pause made behind its back
after the restart is the lifecycle event on its new connection. Guests survive the restart, as QEMU
runs on without libvirtd. The test restarts the shared libvirtd, so it waits until it answers again.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from controlplane.protocol import HostDesiredState
from tests.agents.reconcile.helpers import domain_state, purge, wait_until
from tests.agents.reconcile.sources import FileSource

pytestmark = pytest.mark.libvirt

REPO_ROOT = Path(__file__).resolve().parents[3]
URI = "qemu:///system"


def _libvirtd_answers() -> bool:
    return subprocess.run(["virsh", "-c", URI, "version"], capture_output=True).returncode == 0


def restart_libvirtd() -> None:
    """SIGTERM the daemon, wait for it to go, start it again, wait until it answers."""
    pids = subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-x", "libvirtd"]).returncode == 0:
        time.sleep(0.1)
    subprocess.run(["libvirtd", "-d"], check=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _libvirtd_answers():
        time.sleep(0.2)
    assert _libvirtd_answers(), "libvirtd did not come back after the restart"


@pytest.fixture
def fresh_conn(run_id: str, pool_path: str) -> Iterator[list[libvirt.virConnect]]:
    """The test's own connection, replaced after the restart (the old one dies with the daemon)."""
    conns = [libvirt.open(URI)]
    try:
        yield conns
    finally:
        if not _libvirtd_answers():
            subprocess.run(["libvirtd", "-d"], check=False)
            wait_until(_libvirtd_answers, 30)
        conn = libvirt.open(URI)
        purge(conn, run_id)
        conn.close()
        shutil.rmtree(pool_path, ignore_errors=True)


def test_agent_follows_libvirtd_through_a_restart(fresh_conn, run_id, pool_path, make_server, tmp_path):
    source = FileSource(tmp_path)
    server = make_server(0, "running")
    source.write_desired(HostDesiredState(host="dctest-host", servers=[server]))
    log_path = tmp_path / "agent.log"
    args = [
        sys.executable, "-m", "tests.agents.reconcile.file_agent", "--mode", "runner",
        "--dir", str(tmp_path), "--state-dir", str(tmp_path / "state"),
        "--pool", run_id, "--pool-path", pool_path, "--poll-interval", "600",
    ]  # fmt: skip
    name = f"dcloud-{server.id}"
    with log_path.open("w") as log:
        proc = subprocess.Popen(args, cwd=REPO_ROOT, stderr=log)
    try:
        wait_until(lambda: domain_state(fresh_conn[0], name) == libvirt.VIR_DOMAIN_RUNNING, 30)

        restart_libvirtd()
        fresh_conn[0] = libvirt.open(URI)
        assert domain_state(fresh_conn[0], name) == libvirt.VIR_DOMAIN_RUNNING  # the guest outlived it
        wait_until(lambda: log_path.read_text().count(f"connected to {URI}") >= 2, 60)
        time.sleep(2)  # let the post-reconnect resync finish, so only an event can explain what follows

        fresh_conn[0].lookupByName(name).suspend()  # behind the agent's back

        wait_until(lambda: domain_state(fresh_conn[0], name) == libvirt.VIR_DOMAIN_RUNNING, 15)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
