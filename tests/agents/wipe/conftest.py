"""Real-libvirtd fixtures for the wipe tests: a throwaway dctest-* directory pool per test."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator

import libvirt
import pytest
from lxml import etree

VolumeFactory = Callable[..., libvirt.virStorageVol]


@pytest.fixture(scope="session")
def system_conn() -> Iterator[libvirt.virConnect]:
    try:
        conn = libvirt.open("qemu:///system")
    except libvirt.libvirtError as exc:
        pytest.fail(f"libvirtd at qemu:///system is not reachable (virtlogd -d; libvirtd -d): {exc}")
    yield conn
    with contextlib.suppress(libvirt.libvirtError):  # it may have died with a libvirtd restart
        conn.close()


@pytest.fixture
def dctest_pool(system_conn: libvirt.virConnect) -> Iterator[libvirt.virStoragePool]:
    """A transient dir pool named dctest-<random>, destroyed with its volumes and directory afterwards."""
    name = f"dctest-{uuid.uuid4().hex[:10]}"
    path = tempfile.mkdtemp(prefix=f"{name}-")
    pool_xml = etree.Element("pool", type="dir")
    etree.SubElement(pool_xml, "name").text = name
    etree.SubElement(etree.SubElement(pool_xml, "target"), "path").text = path
    pool = system_conn.storagePoolCreateXML(etree.tostring(pool_xml, encoding="unicode"), 0)
    try:
        yield pool
    finally:
        for vol in pool.listAllVolumes(0):
            vol.delete(0)
        pool.destroy()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_volume(dctest_pool: libvirt.virStoragePool) -> VolumeFactory:
    """Create a raw volume in the dctest pool; `sparse=True` leaves it unallocated (allocation 0)."""

    def create(capacity: int, *, sparse: bool = True) -> libvirt.virStorageVol:
        vol_xml = etree.Element("volume")
        etree.SubElement(vol_xml, "name").text = f"dctest-{uuid.uuid4().hex[:8]}-disk0"
        etree.SubElement(vol_xml, "capacity").text = str(capacity)
        if sparse:
            etree.SubElement(vol_xml, "allocation").text = "0"
        etree.SubElement(etree.SubElement(vol_xml, "target"), "format", type="raw")
        return dctest_pool.createXML(etree.tostring(vol_xml, encoding="unicode"), 0)

    return create
