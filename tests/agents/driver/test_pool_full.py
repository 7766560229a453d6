"""A full storage pool on real libvirt: the server fails with the reason and leaves no volume behind.

The server pool lives on an 8 MiB tmpfs; the image holds 16 MiB of random bytes, so a full copy
(`disk_mode="copy"`, qemu-img convert through libvirt) really writes more than fits. A raw or overlay
disk would not: both are sparse until the guest writes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from agents.driver import LibvirtDriver
from agents.journal import DeletionJournal
from agents.reconcile import Reconciler
from controlplane.protocol import DesiredImage, DiskFormat, FirstBoot, ObservedState
from tests.agents.driver.conftest import RUN, ServerFactory
from tests.agents.driver.image_support import LoopbackImageSource, desired_image, image_pool
from tests.agents.reconcile.sources import MemorySource
from tests.utils.images import serve_files, ssh_key

pytestmark = pytest.mark.libvirt

MIB = 1024**2


@contextlib.contextmanager
def tmpfs_pool(conn: libvirt.virConnect, name: str, path: str, size_mib: int) -> Iterator[tuple[str, str]]:
    """(pool name, path) of a dir pool on a tmpfs of `size_mib`; pool undefined and tmpfs unmounted after."""
    Path(path).mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", path], check=True)
    try:
        yield name, path
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            pool = conn.storagePoolLookupByName(name)
            for vol in pool.listAllVolumes(0):
                with contextlib.suppress(libvirt.libvirtError):
                    vol.delete(0)
            with contextlib.suppress(libvirt.libvirtError):
                pool.destroy()
            pool.undefine()
        subprocess.run(["umount", path], check=True)
        os.rmdir(path)


@pytest.fixture
def full_pool_driver(
    qemu_conn: libvirt.virConnect, tmp_path: Path
) -> Iterator[tuple[LibvirtDriver, DesiredImage]]:
    """A copy-mode driver whose server pool is an 8 MiB tmpfs, and a 16 MiB image of random bytes."""
    root = tmp_path / "served"
    root.mkdir()
    image_id = f"dctest{secrets.token_hex(4)}"
    (root / image_id).write_bytes(os.urandom(16 * MIB))
    image = desired_image(root / image_id, image_id, DiskFormat.RAW, 16 * MIB)
    tag = secrets.token_hex(2)
    full = tmpfs_pool(qemu_conn, f"dctest-{RUN}-{tag}-full", f"/var/tmp/dctest-{RUN}-{tag}-full", 8)
    images = image_pool(f"dctest-{RUN}-{tag}-images", f"/var/tmp/dctest-{RUN}-{tag}-images")
    with serve_files(root) as (url, _files), full as (name, path), images as (image_name, image_path):
        driver = LibvirtDriver(
            qemu_conn,
            pool_name=name,
            pool_path=path,
            stop_timeout_s=1.0,
            image_source=LoopbackImageSource(url),
            image_pool_name=image_name,
            image_pool_path=image_path,
            disk_mode="copy",
        )
        yield driver, image


def _server_volumes(driver: LibvirtDriver, server_id: str) -> list[str]:
    pool = driver.ensure_pool()
    pool.refresh(0)
    return [vol.name() for vol in pool.listAllVolumes(0) if vol.name().startswith(f"dcloud-{server_id}")]


def test_a_disk_that_does_not_fit_fails_the_server_with_no_space_and_leaves_no_volume(
    full_pool_driver: tuple[LibvirtDriver, DesiredImage], new_server: ServerFactory, tmp_path: Path
) -> None:
    driver, image = full_pool_driver
    server = new_server(image=image, disk_gib=1)
    source = MemorySource([server])
    result = Reconciler(driver, source, DeletionJournal(tmp_path / "journal")).run_once()
    (observed,) = [s for s in source.reports[-1].servers if s.id == server.id]
    assert observed.state == ObservedState.ERROR
    assert observed.detail is not None and "no space" in observed.detail.lower()
    assert server.id in result.errors
    assert _server_volumes(driver, server.id) == []
    assert driver.observe(server.id) == ObservedState.DELETED


def test_a_seed_that_does_not_fit_fails_the_server_with_no_space_and_leaves_no_seed(
    full_pool_driver: tuple[LibvirtDriver, DesiredImage], new_server: ServerFactory, tmp_path: Path
) -> None:
    driver, image = full_pool_driver
    driver.disk_mode = "overlay"  # the overlay is made while there is room; then the seed upload fails
    server = new_server(image=image, disk_gib=1)
    driver.ensure_defined(server)
    _fill_leaving(Path(driver.pool_path) / "dctest-filler", free_bytes=0)
    boot = FirstBoot(hostname="web-1", ssh_authorized_keys=[ssh_key()])
    server = server.model_copy(update={"first_boot": boot, "generation": 2})
    source = MemorySource([server])
    Reconciler(driver, source, DeletionJournal(tmp_path / "journal")).run_once()
    (observed,) = [s for s in source.reports[-1].servers if s.id == server.id]
    assert observed.state == ObservedState.ERROR
    assert observed.detail is not None and "no space" in observed.detail.lower()
    assert f"dcloud-{server.id}-seed" not in _server_volumes(driver, server.id)


def _fill_leaving(path: Path, *, free_bytes: int) -> None:
    """Write real bytes into `path` until only about `free_bytes` are left on its file system."""
    stat = os.statvfs(path.parent)
    with path.open("wb") as f:
        f.write(b"\xff" * max(0, stat.f_bavail * stat.f_frsize - free_bytes))
