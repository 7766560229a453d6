"""A full storage pool: creating a server's volumes fails with ENOSPC, the server is reported `error`
with the reason, and no volume (partial or whole) is left in the pool.

The pool is a dctest- dir pool on its own 32 KiB tmpfs: the blank disk is a sparse file and fits,
the 68 KiB seed ISO does not.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.protocol import FirstBoot, ObservedState
from tests.agents.reconcile.helpers import domain_state, purge
from tests.agents.reconcile.sources import MemorySource

pytestmark = pytest.mark.libvirt

POOL_BYTES = 32 * 1024


@pytest.fixture
def full_pool_path(qemu_conn, run_id: str, pool_path: str) -> Iterator[str]:
    """`pool_path` as the mount point of a tmpfs too small for a seed; unmounted after the test."""
    Path(pool_path).mkdir(mode=0o711)
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={POOL_BYTES},mode=0711", "tmpfs", pool_path],
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        pytest.fail("mount(8) is missing: the full-pool test needs a tmpfs")
    assert mounted.returncode == 0, f"cannot mount a tmpfs (needs root): {mounted.stderr}"
    try:
        yield pool_path
    finally:
        purge(qemu_conn, run_id)
        subprocess.run(["umount", pool_path], check=False)


def test_full_pool_fails_the_server_with_the_reason_and_leaves_no_volume(
    qemu_conn, run_id, full_pool_path, make_server, make_reconciler
) -> None:
    first_boot = FirstBoot(hostname="dctest", ssh_authorized_keys=["ssh-ed25519 AAAAC3Nza dctest"])
    server = make_server(0, "running", first_boot=first_boot)
    source = MemorySource([server])
    reconciler, _driver = make_reconciler(qemu_conn, source)

    result = reconciler.run_once()

    (observed,) = [s for s in result.observed.servers if s.id == server.id]
    assert observed.state == ObservedState.ERROR
    assert "No space left on device" in (observed.detail or ""), observed.detail
    assert source.last_state(server.id) == ObservedState.ERROR  # reported to the control plane
    assert domain_state(qemu_conn, f"dcloud-{server.id}") is None
    pool = qemu_conn.storagePoolLookupByName(run_id)
    pool.refresh(0)
    assert [vol.name() for vol in pool.listAllVolumes(0)] == []
    assert list(Path(full_pool_path).iterdir()) == []
