"""A real libvirtd restart (tests/utils/libvirtd.py): the agent reconnects, re-registers its lifecycle
callback, and finishes a reconcile the restart cut short, with one domain per server.

In the first test polling is switched off (10 minutes), so the only way the agent can undo a pause
made behind its back after the restart is the lifecycle event on its new connection. Guests survive
the restart, as QEMU runs on without libvirtd. The tests restart the shared libvirtd and leave it
running and answering.
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
from tests.utils.libvirtd import libvirtd_left_running, restart_libvirtd

pytestmark = pytest.mark.libvirt

REPO_ROOT = Path(__file__).resolve().parents[3]
URI = "qemu:///system"
SERVERS = 6


@pytest.fixture
def fresh_conn(run_id: str, pool_path: str) -> Iterator[list[libvirt.virConnect]]:
    """The test's own connection, replaced after the restart (the old one dies with the daemon)."""
    conns = [libvirt.open(URI)]
    try:
        with libvirtd_left_running():
            yield conns
    finally:
        conn = libvirt.open(URI)
        purge(conn, run_id)
        conn.close()
        shutil.rmtree(pool_path, ignore_errors=True)


def test_agent_follows_libvirtd_through_a_restart(fresh_conn, run_id, pool_path, make_server, tmp_path):
    source = FileSource(tmp_path)
    server = make_server(0, "running")
    source.write_desired(HostDesiredState(host="dctest-host", servers=[server]))
    log_path = tmp_path / "agent.log"
    args = _runner_args(tmp_path, run_id, pool_path, poll="600")
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


def _ours(conn: libvirt.virConnect, run_id: str) -> list[str]:
    return sorted(dom.name() for dom in conn.listAllDomains(0) if run_id in dom.name())


def test_libvirtd_restarted_mid_reconcile_the_agent_finishes_it_without_duplicates(
    fresh_conn, run_id, pool_path, make_server, tmp_path
):
    source = FileSource(tmp_path)
    servers = [make_server(n, "running") for n in range(SERVERS)]
    source.write_desired(HostDesiredState(host="dctest-host", servers=servers))
    log_path = tmp_path / "agent.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            _runner_args(tmp_path, run_id, pool_path, poll="1"), cwd=REPO_ROOT, stderr=log
        )
    names = [f"dcloud-{server.id}" for server in servers]
    try:
        # The first pass is under way: some servers are defined, not all of them run yet.
        wait_until(lambda: len(_ours(fresh_conn[0], run_id)) >= 1, 30)
        running_at_restart = sum(_all_running(fresh_conn[0], [n]) for n in names)

        restart_libvirtd()
        fresh_conn[0] = libvirt.open(URI)

        wait_until(lambda: _all_running(fresh_conn[0], names), 45)
        assert running_at_restart < SERVERS, "the pass had finished before the restart: nothing was proven"
        assert log_path.read_text().count(f"connected to {URI}") >= 2  # it reconnected
        assert _ours(fresh_conn[0], run_id) == sorted(names)  # one domain per server, no duplicate
        pool = fresh_conn[0].storagePoolLookupByName(run_id)
        pool.refresh(0)
        assert sorted(v.name() for v in pool.listAllVolumes(0)) == sorted(f"{n}-disk0" for n in names)
        try:
            wait_until(lambda: _last_full_report_all_running(source, servers), 15)
        except AssertionError:
            full = [r for r in source.reports() if r.full]
            raise AssertionError(f"{len(full)} full reports; last: {full[-1:]}") from None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _all_running(conn: libvirt.virConnect, names: list[str]) -> bool:
    return all(domain_state(conn, name) == libvirt.VIR_DOMAIN_RUNNING for name in names)


def _runner_args(tmp_path: Path, run_id: str, pool_path: str, *, poll: str) -> list[str]:
    return [
        sys.executable, "-m", "tests.agents.reconcile.file_agent", "--mode", "runner",
        "--dir", str(tmp_path), "--state-dir", str(tmp_path / "state"),
        "--pool", run_id, "--pool-path", pool_path, "--poll-interval", poll,
    ]  # fmt: skip


def _last_full_report_all_running(source: FileSource, servers: list) -> bool:
    full = [r for r in source.reports() if r.full]
    if not full:
        return False
    states = {s.id: s.state for s in full[-1].servers}
    # Other dcloud-named domains of the shared host may be listed too; these servers must all be there.
    return all(states.get(server.id) == "running" for server in servers)
