"""Fixtures for the reconcile-loop tests: real libvirt connections, a dctest-* pool, cleanup of all we made.

Everything is named from one random run id (`dctest-<id>`): server ids `dctest-<id>-<n>` give domains
`dcloud-dctest-<id>-<n>` and volumes `dcloud-dctest-<id>-<n>-disk0`; finalizers remove them even
when the test fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest

from agents.driver import LibvirtDriver
from agents.journal import DeletionJournal
from agents.metrics import AgentMetrics
from agents.reconcile import Reconciler
from agents.soft_reboot import SoftReboots
from controlplane.protocol import DesiredServer
from tests.agents.reconcile.helpers import purge
from tests.agents.reconcile.sources import MemorySource

QEMU_URI = "qemu:///system"
TEST_URI = "test:///default"
# qemu runs guests as libvirt-qemu: the pool directory must be traversable, unlike a 0700 mkdtemp.
POOL_ROOT = Path("/var/lib/dcloud-test")


@pytest.fixture
def run_id() -> str:
    return f"dctest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def qemu_conn(run_id: str) -> Iterator[libvirt.virConnect]:
    try:
        conn = libvirt.open(QEMU_URI)
    except libvirt.libvirtError as exc:
        pytest.fail(f"libvirtd at {QEMU_URI} is not reachable (virtlogd -d; libvirtd -d): {exc}")
    try:
        yield conn
    finally:
        purge(conn, run_id)
        shutil.rmtree(POOL_ROOT / run_id, ignore_errors=True)
        conn.close()


@pytest.fixture
def test_conn(run_id: str) -> Iterator[libvirt.virConnect]:
    """libvirt's in-memory test driver (state shared by every test:///default connection in-process)."""
    conn = libvirt.open(TEST_URI)
    try:
        yield conn
    finally:
        purge(conn, run_id)
        conn.close()


@pytest.fixture
def pool_path(run_id: str) -> str:
    POOL_ROOT.mkdir(mode=0o755, exist_ok=True)
    os.chmod(POOL_ROOT, 0o755)
    return str(POOL_ROOT / run_id)


@pytest.fixture
def make_server(run_id: str) -> Callable[..., DesiredServer]:
    def make(n: int = 0, state: str = "running", **fields: object) -> DesiredServer:
        values: dict[str, object] = {
            "id": f"{run_id}-{n}",
            "name": f"test server {n}",
            "vcpus": 1,
            "memory_mib": 64,
            "disk_gib": 1,
            "desired_state": state,
            "generation": 1,
        }
        values.update(fields)
        return DesiredServer.model_validate(values)

    return make


@pytest.fixture
def make_reconciler(
    run_id: str, pool_path: str, tmp_path: Path
) -> Callable[..., tuple[Reconciler, LibvirtDriver]]:
    """A Reconciler over a real connection, a dctest pool and a journal in tmp_path."""

    def make(
        conn: libvirt.virConnect,
        source: MemorySource,
        *,
        suspend_mode: str = "pause",
        soft_reboots: SoftReboots | None = None,
        metrics: AgentMetrics | None = None,
    ) -> tuple[Reconciler, LibvirtDriver]:
        driver = LibvirtDriver(
            conn,
            pool_name=run_id,
            pool_path=pool_path,
            suspend_mode=suspend_mode,
            stop_timeout_s=1.0,
            soft_reboots=soft_reboots,
        )
        driver.ensure_pool()
        journal = DeletionJournal(tmp_path / "state")
        return Reconciler(driver, source, journal, metrics or AgentMetrics()), driver

    return make
