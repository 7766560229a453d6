"""libvirtd drops the agent's connection (as on a libvirtd restart): the close callback fires and the
agent reconnects and keeps reconciling. The server side is made to hang up with virt-admin, which
touches only the agent subprocess's own client, not other users of the shared libvirtd."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controlplane.protocol import HostDesiredState
from tests.agents.reconcile.helpers import domain_state, wait_until
from tests.agents.reconcile.sources import FileSource

pytestmark = pytest.mark.libvirt

REPO_ROOT = Path(__file__).resolve().parents[3]


def _clients_of(pid: int) -> list[str]:
    """libvirtd client ids whose peer process is `pid`."""
    listing = subprocess.run(
        ["virt-admin", "srv-clients-list", "libvirtd"], capture_output=True, text=True, check=True
    ).stdout
    ids = [line.split()[0] for line in listing.splitlines()[2:] if line.strip()]
    found = []
    for client_id in ids:
        info = subprocess.run(
            ["virt-admin", "client-info", "libvirtd", client_id], capture_output=True, text=True
        ).stdout
        match = re.search(r"unix_process_id\s*:\s*(\d+)", info)
        if match and int(match.group(1)) == pid:
            found.append(client_id)
    return found


def test_agent_reconnects_when_libvirtd_hangs_up(qemu_conn, run_id, pool_path, make_server, tmp_path):
    source = FileSource(tmp_path)
    first, second = make_server(0, "stopped"), make_server(1, "stopped")
    source.write_desired(HostDesiredState(host="dctest-host", servers=[first]))
    log_path = tmp_path / "agent.log"
    args = [
        sys.executable, "-m", "tests.agents.reconcile.file_agent", "--mode", "runner",
        "--dir", str(tmp_path), "--state-dir", str(tmp_path / "state"),
        "--pool", run_id, "--pool-path", pool_path,
    ]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(args, cwd=REPO_ROOT, stderr=log)
    try:
        wait_until(lambda: domain_state(qemu_conn, f"dcloud-{first.id}") is not None, 30)
        clients = _clients_of(proc.pid)
        assert clients, "the agent holds no libvirtd connection"
        for client_id in clients:
            subprocess.run(["virt-admin", "client-disconnect", "libvirtd", client_id], check=True)

        source.write_desired(HostDesiredState(host="dctest-host", servers=[first, second]))

        wait_until(lambda: domain_state(qemu_conn, f"dcloud-{second.id}") is not None, 30)
        wait_until(lambda: "connected to qemu:///system" in log_path.read_text().split("closed")[-1], 10)
        assert "libvirt connection closed" in log_path.read_text()
        assert set(_clients_of(proc.pid)).isdisjoint(clients)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
