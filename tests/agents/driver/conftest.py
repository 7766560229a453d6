"""Fixtures for the libvirt driver tests: a dctest-* pool, dctest-* networks and servers on real libvirtd.

Every server id starts with `dctest<run>` (domains `dcloud-dctest<run>...`), where <run> is random per
test session, so finalizers remove exactly what this run created and never another engineer's VMs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import libvirt
import pytest
from lxml import etree

from agents.driver import LibvirtDriver
from controlplane.protocol import DesiredServer, NetworkAttachment

RUN = secrets.token_hex(3)
QEMU_URI = "qemu:///system"
_ALL_UNDEFINE = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
)

ServerFactory = Callable[..., DesiredServer]


def remove_domain(conn: libvirt.virConnect, name: str) -> None:
    """Destroy and undefine one domain, whatever state it is in; missing is fine."""
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    with contextlib.suppress(libvirt.libvirtError):
        dom.destroy()
    with contextlib.suppress(libvirt.libvirtError):
        dom.undefineFlags(_ALL_UNDEFINE)


def remove_run_domains(conn: libvirt.virConnect) -> None:
    for dom in conn.listAllDomains(0):
        if dom.name().startswith((f"dcloud-dctest{RUN}", f"dctest{RUN}")):
            remove_domain(conn, dom.name())


@pytest.fixture(scope="session")
def qemu_conn() -> Iterator[libvirt.virConnect]:
    conn = libvirt.open(QEMU_URI)
    yield conn
    remove_run_domains(conn)
    conn.close()


@pytest.fixture(scope="session")
def pool_names(qemu_conn: libvirt.virConnect) -> Iterator[tuple[str, str]]:
    """(pool name, pool path) for this run; the pool and its directory are removed at the end."""
    name, path = f"dctest-{RUN}", f"/var/tmp/dctest-{RUN}"
    yield name, path
    remove_run_domains(qemu_conn)
    with contextlib.suppress(libvirt.libvirtError):
        pool = qemu_conn.storagePoolLookupByName(name)
        for vol in pool.listAllVolumes(0):
            with contextlib.suppress(libvirt.libvirtError):
                vol.delete(0)
        with contextlib.suppress(libvirt.libvirtError):
            pool.destroy()
        pool.undefine()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def driver(make_driver: Callable[..., LibvirtDriver]) -> LibvirtDriver:
    # A guest with no OS ignores ACPI: keep the graceful-stop wait short.
    return make_driver(stop_timeout_s=1.0)


@pytest.fixture
def make_driver(qemu_conn: libvirt.virConnect, pool_names: tuple[str, str]) -> Callable[..., LibvirtDriver]:
    """Drivers on this run's pool with other options (suspend_mode, stop_timeout_s)."""

    def make(**options: object) -> LibvirtDriver:
        options.setdefault("stop_timeout_s", 1.0)
        return LibvirtDriver(qemu_conn, pool_name=pool_names[0], pool_path=pool_names[1], **options)  # type: ignore[arg-type]

    return make


def make_server_factory(conn: libvirt.virConnect, made: list[str]) -> ServerFactory:
    def make(**fields: object) -> DesiredServer:
        server_id = f"dctest{RUN}{secrets.token_hex(3)}"
        made.append(server_id)
        base: dict[str, object] = dict(
            id=server_id, name=f"test {server_id}", vcpus=1, memory_mib=64, disk_gib=1,
            desired_state="running", generation=1,
        )
        base.update(fields)
        return DesiredServer.model_validate(base)

    return make


@pytest.fixture
def new_server(qemu_conn: libvirt.virConnect, pool_names: tuple[str, str]) -> Iterator[ServerFactory]:
    """Factory of tiny test servers; their domains and volumes are removed even when the test fails."""
    made: list[str] = []
    yield make_server_factory(qemu_conn, made)
    for server_id in made:
        remove_domain(qemu_conn, f"dcloud-{server_id}")
    with contextlib.suppress(libvirt.libvirtError):
        pool = qemu_conn.storagePoolLookupByName(pool_names[0])
        for vol in pool.listAllVolumes(0):
            if any(vol.name().startswith(f"dcloud-{sid}-") for sid in made):
                vol.delete(0)


def _network_xml(name: str, bridge: str, subnet: ipaddress.IPv4Network) -> str:
    hosts = list(subnet.hosts())
    root = etree.Element("network")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "bridge", name=bridge, stp="off")
    ip = etree.SubElement(root, "ip", address=str(hosts[0]), netmask=str(subnet.netmask))
    dhcp = etree.SubElement(ip, "dhcp")
    etree.SubElement(dhcp, "range", start=str(hosts[1]), end=str(hosts[-1]))
    return etree.tostring(root, encoding="unicode")


def _candidate_subnets() -> list[ipaddress.IPv4Network]:
    """/27s of the documentation ranges, shuffled, so parallel runs rarely pick the same one."""
    nets = [
        sub
        for block in ("192.0.2.0/24", "198.51.100.0/24")
        for sub in ipaddress.ip_network(block).subnets(new_prefix=27)
    ]
    random.shuffle(nets)
    return nets


@dataclass
class TestNetwork:
    __test__ = False  # a fixture value, not a test class

    name: str
    subnet: ipaddress.IPv4Network

    def attachment(self, host_index: int = 10) -> NetworkAttachment:
        mac = "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
        return NetworkAttachment(network=self.name, mac=mac, ip=str(list(self.subnet.hosts())[host_index]))


@pytest.fixture
def isolated_network(qemu_conn: libvirt.virConnect) -> Iterator[TestNetwork]:
    """A persistent, running, isolated (no <forward>) libvirt network with DHCP."""
    suffix = secrets.token_hex(3)
    name, bridge = f"dctest-{RUN}-{suffix}", f"dct-{suffix}"
    net = None
    try:
        for subnet in _candidate_subnets():
            net = qemu_conn.networkDefineXML(_network_xml(name, bridge, subnet))
            try:
                net.create()
                break
            except libvirt.libvirtError:
                net.undefine()  # subnet in use by a parallel run: try another
                net = None
        assert net is not None, "no free documentation subnet for a test network"
        yield TestNetwork(name, subnet)
    finally:
        if net is not None:
            with contextlib.suppress(libvirt.libvirtError):
                net.destroy()
            with contextlib.suppress(libvirt.libvirtError):
                net.undefine()
