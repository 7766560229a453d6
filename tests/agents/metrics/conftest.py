"""Fixtures for the metrics tests: test:///default domains, a counting connection proxy, a real KVM guest."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator

import libvirt
import pytest
from lxml import etree
from metrics_test_support import domain_xml
from prometheus_client import CollectorRegistry

DefineDomains = Callable[..., list[libvirt.virDomain]]


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def test_conn() -> Iterator[libvirt.virConnect]:
    """A private test:///default connection (its in-memory state lives and dies with the connection)."""
    conn = libvirt.open("test:///default")
    yield conn
    with contextlib.suppress(libvirt.libvirtError):  # a test may have closed it on purpose
        conn.close()


@pytest.fixture
def define_domains(test_conn: libvirt.virConnect) -> Iterator[DefineDomains]:
    """Define and start `n` domains named dcloud-dctest-<random>-<i>; destroyed and undefined afterwards."""
    created: list[libvirt.virDomain] = []

    def define(n: int, *, start: bool = True) -> list[libvirt.virDomain]:
        tag = uuid.uuid4().hex[:8]
        for i in range(n):
            dom = test_conn.defineXML(domain_xml(f"dcloud-dctest-{tag}-{i}"))
            created.append(dom)
            if start:
                dom.create()
        return created[-n:]

    yield define
    if not _alive(test_conn):
        return  # closed by the test: the in-memory domains went with it
    for dom in created:
        if dom.isActive():
            dom.destroy()
        dom.undefine()


def _alive(conn: libvirt.virConnect) -> bool:
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False


def _kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def guest_xml(name: str, disk_path: str, tap: str) -> str:
    """A 64 MiB, 2-vCPU guest with one virtio disk and one tap interface; it boots nothing, enough here."""
    dom = etree.fromstring(domain_xml(name, domain_type="kvm" if _kvm_usable() else "qemu", vcpus=2))
    etree.SubElement(dom.find("os"), "boot", dev="hd")
    devices = dom.find("devices")
    disk = etree.SubElement(devices, "disk", type="file", device="disk")
    etree.SubElement(disk, "driver", name="qemu", type="raw")
    etree.SubElement(disk, "source", file=disk_path)
    etree.SubElement(disk, "target", dev="vda", bus="virtio")
    iface = etree.SubElement(devices, "interface", type="ethernet")
    etree.SubElement(iface, "target", dev=tap)
    etree.SubElement(iface, "model", type="virtio")
    return etree.tostring(dom, encoding="unicode")


@pytest.fixture
def qemu_guest() -> Iterator[tuple[libvirt.virConnect, libvirt.virDomain]]:
    """A running transient dctest-* guest on qemu:///system; destroyed (and its disk removed) afterwards."""
    conn = libvirt.open("qemu:///system")
    tag = uuid.uuid4().hex[:8]
    workdir = tempfile.mkdtemp(prefix=f"dctest-{tag}-")
    os.chmod(workdir, 0o755)  # qemu runs as libvirt-qemu; mkdtemp's 0700 would hide the disk from it
    disk = os.path.join(workdir, "disk0.raw")
    with open(disk, "wb") as f:
        f.truncate(8 * 1024 * 1024)
    dom = None
    try:
        dom = conn.createXML(guest_xml(f"dcloud-dctest-{tag}", disk, f"dct{tag}"), 0)
        yield conn, dom
    finally:
        if dom is not None and dom.isActive():
            dom.destroy()  # transient: destroying it also removes the definition and the tap
        shutil.rmtree(workdir, ignore_errors=True)
        conn.close()
