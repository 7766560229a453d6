"""The irreversible wipe re-checks, at the moment it acts, that the server is still to be deleted."""

from __future__ import annotations

import libvirt
import pytest
from prometheus_client import CollectorRegistry

from agents.journal import STEP_DESTROY
from tests.agents.reconcile.helpers import domain_state
from tests.agents.reconcile.sources import MemorySource

pytestmark = pytest.mark.libvirt

DATA = b"\x5a" * (1024 * 1024)


def _defined_server_with_data(qemu_conn, make_server, make_reconciler):
    server = make_server(0, "stopped")
    source = MemorySource([server])
    reconciler, driver = make_reconciler(qemu_conn, source)
    reconciler.run_once()
    (vol,) = driver.server_volumes(server.id)
    with open(vol.path(), "r+b") as f:
        f.write(DATA)
    return server, source, reconciler, driver, vol.path()


def _head(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(len(DATA))


@pytest.mark.parametrize("answer_at_wipe_time", ["running", None], ids=["now-running", "unreachable"])
def test_no_wipe_unless_still_deleted_at_wipe_time(
    qemu_conn, make_server, make_reconciler, answer_at_wipe_time
) -> None:
    server, source, reconciler, driver, vol_path = _defined_server_with_data(
        qemu_conn, make_server, make_reconciler
    )
    source.set_state(server.id, "deleted")
    # The list said deleted, but asked again right before the wipe the control plane says otherwise
    # (or does not answer): the disk must keep its data.
    source.recheck[server.id] = answer_at_wipe_time

    result = reconciler.run_once()

    assert server.id in source.recheck_calls
    assert domain_state(qemu_conn, driver.domain_name(server.id)) is None  # destroy is reversible
    assert _head(vol_path) == DATA
    assert source.deletion_reports() == []
    entry = reconciler.journal.load(server.id)
    assert entry is not None and entry.done(STEP_DESTROY) and entry.wiped == {}
    assert result.errors == {}
    registry = CollectorRegistry()
    registry.register(reconciler.metrics)
    errors = registry.get_sample_value("dcloud_agent_reconcile_errors_total", {"kind": "wipe_not_confirmed"})
    assert errors == 1


def test_delete_cancelled_before_wipe_brings_the_server_back(qemu_conn, make_server, make_reconciler) -> None:
    server, source, reconciler, driver, vol_path = _defined_server_with_data(
        qemu_conn, make_server, make_reconciler
    )
    source.set_state(server.id, "deleted")
    source.recheck[server.id] = "running"
    reconciler.run_once()

    source.recheck.clear()
    source.set_state(server.id, "running")
    reconciler.run_once()

    assert domain_state(qemu_conn, driver.domain_name(server.id)) == libvirt.VIR_DOMAIN_RUNNING
    assert reconciler.journal.load(server.id) is None
    # Same disk, data intact (QEMU only reads the first sectors while SeaBIOS finds nothing to boot).
    assert _head(vol_path) == DATA
    assert source.last_state(server.id) == "running"
