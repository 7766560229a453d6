"""kill -9 the agent at every step of deleting a running server with two volumes (disk and seed ISO).

The agent is a subprocess (tests/agents/reconcile/file_agent.py) armed by agents/faults.py to SIGKILL
itself right after the Nth time a step became durable (`wipe:2`: after the second volume's wipe). At
the kill, no volume may be gone without its wipe journaled, and a journaled wipe really left zeros;
after the restart the delete is complete: no domain, no volume, one deletion record naming each
volume once, each wiped once.
"""

from __future__ import annotations

import os
import signal

import pytest

from agents.journal import DeletionJournal
from controlplane.protocol import DesiredState, FirstBoot, HostDesiredState
from tests.agents.reconcile.helpers import domain_state
from tests.agents.reconcile.test_crash_resume import DATA, AgentProcess

pytestmark = pytest.mark.libvirt

# Every step of the delete in the order the journal passes them; the wipe and the volume delete once
# per volume (both wipes come before the first delete).
CRASH_POINTS = [
    "begin",
    "power_off",
    "destroy",
    "wipe:1",
    "wipe:2",
    "delete_volume:1",
    "delete_volume:2",
    "network",
    "report_ready",
    "report_sent",
]


@pytest.fixture
def deleting_two_volumes(qemu_conn, run_id, pool_path, make_server, tmp_path):
    """A running server with customer data on its disk and a seed ISO, now desired deleted."""
    agent = AgentProcess(tmp_path, run_id, pool_path)
    first_boot = FirstBoot(hostname="dctest", ssh_authorized_keys=["ssh-ed25519 AAAAC3Nza dctest"])
    server = make_server(0, "running", first_boot=first_boot)
    agent.source.write_desired(HostDesiredState(host="dctest-host", servers=[server]))
    assert agent.run() == 0, agent.stderr[-1]
    pool = qemu_conn.storagePoolLookupByName(run_id)
    paths = {vol.name(): vol.path() for vol in pool.listAllVolumes(0)}
    assert sorted(paths) == [f"dcloud-{server.id}-disk0", f"dcloud-{server.id}-seed"]
    with open(paths[f"dcloud-{server.id}-disk0"], "r+b") as f:
        f.write(DATA)
        os.fsync(f.fileno())
    deleted = server.model_copy(update={"desired_state": DesiredState.DELETED, "generation": 2})
    agent.source.write_desired(HostDesiredState(host="dctest-host", servers=[deleted]))
    return agent, deleted, paths


def _is_zero(path: str) -> bool:
    with open(path, "rb") as f:
        return not any(f.read(len(DATA)).strip(b"\0"))


def _assert_nothing_deleted_unwiped(agent: AgentProcess, server_id: str, paths: dict[str, str]) -> None:
    entry = DeletionJournal(agent.state_dir).load(server_id)
    wiped = set(entry.wiped) if entry is not None else set()
    for name, path in paths.items():
        if not os.path.exists(path):
            assert name in wiped, f"{name} was deleted without a journaled wipe"
        elif name in wiped:
            assert _is_zero(path), f"{name} is journaled wiped but still holds data"


@pytest.mark.parametrize("crash_point", CRASH_POINTS)
def test_delete_of_two_volumes_killed_at_any_step_completes_with_each_volume_wiped_once(
    qemu_conn, deleting_two_volumes, crash_point
) -> None:
    agent, server, paths = deleting_two_volumes

    assert agent.run(crash_after=crash_point) == -signal.SIGKILL
    _assert_nothing_deleted_unwiped(agent, server.id, paths)
    assert agent.run() == 0, agent.stderr[-1]

    assert domain_state(qemu_conn, f"dcloud-{server.id}") is None
    assert [name for name, path in paths.items() if os.path.exists(path)] == []
    (record,) = [d for r in agent.source.reports() for d in r.deletions]
    assert [v.name for v in record.volumes] == sorted(paths)  # each volume exactly once
    disk = next(v for v in record.volumes if v.name.endswith("-disk0"))
    assert disk.bytes_overwritten >= len(DATA)
    assert record.bytes_overwritten == sum(v.bytes_overwritten for v in record.volumes)
    assert agent.wipes_logged() == 2  # one wipe per volume, none repeated after the restart
    assert DeletionJournal(agent.state_dir).entries() == []
