"""Isolated libvirt networks for tests: no <forward>, DHCP on a documentation range, always removed."""

from __future__ import annotations

import contextlib
import ipaddress
import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import libvirt
from lxml import etree

from controlplane.protocol import NetworkAttachment


def network_xml(name: str, bridge: str, subnet: ipaddress.IPv4Network) -> str:
    hosts = list(subnet.hosts())
    root = etree.Element("network")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "bridge", name=bridge, stp="off")
    ip = etree.SubElement(root, "ip", address=str(hosts[0]), netmask=str(subnet.netmask))
    dhcp = etree.SubElement(ip, "dhcp")
    etree.SubElement(dhcp, "range", start=str(hosts[1]), end=str(hosts[-1]))
    return etree.tostring(root, encoding="unicode")


def candidate_subnets() -> list[ipaddress.IPv4Network]:
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


@contextlib.contextmanager
def isolated_network(conn: libvirt.virConnect, prefix: str) -> Iterator[TestNetwork]:
    """A persistent, running, isolated libvirt network named `<prefix>-<hex>`, removed afterwards."""
    suffix = secrets.token_hex(3)
    name, bridge = f"{prefix}-{suffix}", f"dct-{suffix}"
    net = None
    try:
        for subnet in candidate_subnets():
            net = conn.networkDefineXML(network_xml(name, bridge, subnet))
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
            _remove_network(conn, name)


def _remove_network(conn: libvirt.virConnect, name: str) -> None:
    """Destroys and undefines `name`, over a new connection when libvirtd restarted under the test."""
    fresh = None if conn.isAlive() else libvirt.open("qemu:///system")  # the only URI with networks here
    try:
        with contextlib.suppress(libvirt.libvirtError):
            net = (fresh or conn).networkLookupByName(name)
            with contextlib.suppress(libvirt.libvirtError):
                net.destroy()
            net.undefine()
    finally:
        if fresh is not None:
            fresh.close()


def filter_bindings(conn: libvirt.virConnect, mac: str) -> list[tuple[str, str | None]]:
    """libvirt's own nwfilter bindings for an interface MAC: (filter name, its IP parameter)."""
    found = []
    for binding in conn.listAllNWFilterBindings(0):
        xml = etree.fromstring(binding.XMLDesc(0).encode())
        if xml.find("mac").get("address") == mac:
            ref = xml.find("filterref")
            param = ref.find("parameter[@name='IP']")
            found.append((ref.get("filter"), None if param is None else param.get("value")))
    return found
