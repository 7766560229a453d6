"""The reconciler drives a real QEMU domain through every desired state."""

from __future__ import annotations

import os

import libvirt
import pytest

from tests.agents.reconcile.helpers import domain_state
from tests.agents.reconcile.sources import MemorySource

pytestmark = pytest.mark.libvirt

MIB = 1024 * 1024


def _fill(path: str, nbytes: int) -> None:
    """Write customer data (non-zero bytes) at the start of a stopped server's disk."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"\xab" * nbytes, 0)
        os.fsync(fd)
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("suspend_mode", "suspended_state", "reported"),
    [("pause", libvirt.VIR_DOMAIN_PAUSED, "paused"), ("managedsave", libvirt.VIR_DOMAIN_SHUTOFF, "saved")],
)
def test_a_server_suspended_before_it_first_ran_is_suspended_and_resume_boots_it(
    qemu_conn, make_server, make_reconciler, suspend_mode, suspended_state, reported
) -> None:
    server = make_server(0, "suspended")  # suspended before the agent's first pass started it
    source = MemorySource([server])
    reconciler, driver = make_reconciler(qemu_conn, source, suspend_mode=suspend_mode)
    name = driver.domain_name(server.id)

    for _ in range(2):  # managedsave goes off -> paused -> saved, one step a pass
        reconciler.run_once()
    assert domain_state(qemu_conn, name) == suspended_state
    assert source.last_state(server.id) == reported
    assert bool(qemu_conn.lookupByName(name).hasManagedSaveImage(0)) is (suspend_mode == "managedsave")

    reconciler.run_once()  # converged: nothing more to do
    assert domain_state(qemu_conn, name) == suspended_state

    source.set_state(server.id, "running")
    reconciler.run_once()
    assert domain_state(qemu_conn, name) == libvirt.VIR_DOMAIN_RUNNING
    assert source.last_state(server.id) == "running"


@pytest.mark.parametrize(
    ("suspend_mode", "suspended_state"),
    [("pause", libvirt.VIR_DOMAIN_PAUSED), ("managedsave", libvirt.VIR_DOMAIN_SHUTOFF)],
)
def test_lifecycle_follows_desired_state(
    qemu_conn, make_server, make_reconciler, suspend_mode, suspended_state
) -> None:
    server = make_server(0, "running")
    source = MemorySource([server])
    reconciler, driver = make_reconciler(qemu_conn, source, suspend_mode=suspend_mode)
    name = driver.domain_name(server.id)

    reconciler.run_once()
    assert domain_state(qemu_conn, name) == libvirt.VIR_DOMAIN_RUNNING
    assert source.last_state(server.id) == "running"

    source.set_state(server.id, "suspended")
    reconciler.run_once()
    assert domain_state(qemu_conn, name) == suspended_state
    saved = bool(qemu_conn.lookupByName(name).hasManagedSaveImage(0))
    assert saved is (suspend_mode == "managedsave")
    assert source.last_state(server.id) == ("paused" if suspend_mode == "pause" else "saved")

    source.set_state(server.id, "running")
    reconciler.run_once()
    assert domain_state(qemu_conn, name) == libvirt.VIR_DOMAIN_RUNNING

    source.set_state(server.id, "stopped")
    reconciler.run_once()
    assert domain_state(qemu_conn, name) == libvirt.VIR_DOMAIN_SHUTOFF
    assert source.last_state(server.id) == "shutoff"

    (vol,) = driver.server_volumes(server.id)
    vol_path = vol.path()
    _fill(vol_path, 3 * MIB)
    source.set_state(server.id, "deleted")
    result = reconciler.run_once()

    assert result.errors == {}
    assert domain_state(qemu_conn, name) is None
    assert driver.server_volumes(server.id) == []
    assert not os.path.exists(vol_path)
    (report,) = source.deletion_reports()
    assert report.server_id == server.id and report.domain_name == name
    assert [v.name for v in report.volumes] == [f"{name}-disk0"]
    assert report.bytes_overwritten >= 3 * MIB
    assert report.started_at <= report.finished_at
    assert reconciler.journal.entries() == []

    # The control plane stops listing it; another pass reports nothing new.
    reconciler.run_once()
    assert len(source.deletion_reports()) == 1


def test_stopped_server_is_defined_but_never_started(qemu_conn, make_server, make_reconciler) -> None:
    server = make_server(0, "stopped")
    source = MemorySource([server])
    reconciler, driver = make_reconciler(qemu_conn, source)

    reconciler.run_once()

    assert domain_state(qemu_conn, driver.domain_name(server.id)) == libvirt.VIR_DOMAIN_SHUTOFF
    assert len(driver.server_volumes(server.id)) == 1
    assert source.last_state(server.id) == "shutoff"
