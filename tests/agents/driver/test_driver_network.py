"""Network binding and traffic filters, checked with libvirt's own view (network XML, nwfilter bindings)."""

from __future__ import annotations

import libvirt
import pytest
from lxml import etree

from agents.domain_xml import CLEAN_TRAFFIC_FILTER, SMTP_BLOCK_FILTER
from agents.driver import LibvirtDriver
from agents.netbinding import dhcp_hosts
from controlplane.protocol import DesiredServer

pytestmark = pytest.mark.libvirt


def _host_entries(conn: libvirt.virConnect, network: str, flags: int = 0) -> list[tuple[str, str]]:
    root = etree.fromstring(conn.networkLookupByName(network).XMLDesc(flags).encode())
    return [(h.get("mac"), h.get("ip")) for h in root.iterfind("ip/dhcp/host")]


def _bindings_of(conn: libvirt.virConnect, dom: libvirt.virDomain) -> list[tuple[str, str | None]]:
    """(filter, IP parameter) of every nwfilter binding owned by the domain."""
    found = []
    for binding in conn.listAllNWFilterBindings(0):
        root = etree.fromstring(binding.XMLDesc(0).encode())
        if root.findtext("owner/uuid") != dom.UUIDString():
            continue
        ref = root.find("filterref")
        ip = next((p.get("value") for p in ref.iterfind("parameter") if p.get("name") == "IP"), None)
        found.append((ref.get("filter"), ip))
    return found


def _interface(dom: libvirt.virDomain) -> etree._Element:
    return etree.fromstring(dom.XMLDesc(0).encode()).find("devices/interface")


def test_dhcp_host_entry_is_added_once_live_and_in_config(driver, new_server, isolated_network) -> None:
    att = isolated_network.attachment()
    server = new_server(networks=[att])
    driver.ensure_network_binding(server)
    driver.ensure_network_binding(server)
    entry = (att.mac, att.ip)
    assert _host_entries(driver.conn, att.network) == [entry]
    assert _host_entries(driver.conn, att.network, libvirt.VIR_NETWORK_XML_INACTIVE) == [entry]

    driver.remove_network_binding(server)
    driver.remove_network_binding(server)
    assert _host_entries(driver.conn, att.network) == []
    assert _host_entries(driver.conn, att.network, libvirt.VIR_NETWORK_XML_INACTIVE) == []


def test_a_new_address_for_the_same_mac_replaces_the_entry(driver, new_server, isolated_network) -> None:
    att = isolated_network.attachment(10)
    driver.ensure_network_binding(new_server(networks=[att]))
    moved = att.model_copy(update={"ip": str(list(isolated_network.subnet.hosts())[11])})
    driver.ensure_network_binding(new_server(networks=[moved]))
    net = driver.conn.networkLookupByName(att.network)
    assert dhcp_hosts(net) == {att.mac: moved.ip}


def _running_on_network(driver: LibvirtDriver, server: DesiredServer) -> libvirt.virDomain:
    driver.ensure_network_binding(server)
    driver.ensure_defined(server)
    driver.start(server.id)
    return driver.conn.lookupByName(driver.domain_name(server.id))


def test_running_domain_is_bound_to_clean_traffic_with_its_ip(driver, new_server, isolated_network) -> None:
    att = isolated_network.attachment()
    dom = _running_on_network(driver, new_server(networks=[att]))
    iface = _interface(dom)
    assert iface.find("mac").get("address") == att.mac
    assert iface.find("source").get("network") == att.network
    assert iface.find("filterref").get("filter") == CLEAN_TRAFFIC_FILTER
    assert _bindings_of(driver.conn, dom) == [(CLEAN_TRAFFIC_FILTER, att.ip)]
    assert (att.mac, att.ip) in _host_entries(driver.conn, att.network)


def test_blocking_smtp_switches_the_filter_while_the_domain_keeps_running(
    driver, new_server, isolated_network
) -> None:
    att = isolated_network.attachment()
    server = new_server(networks=[att])
    dom = _running_on_network(driver, server)
    qemu_id = dom.ID()

    blocked = server.model_copy(update={"block_outbound_smtp": True, "generation": 2})
    driver.ensure_defined(blocked)
    assert _bindings_of(driver.conn, dom) == [(SMTP_BLOCK_FILTER, att.ip)]
    config = etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).encode())
    assert config.find("devices/interface/filterref").get("filter") == SMTP_BLOCK_FILTER
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING and dom.ID() == qemu_id  # never restarted

    driver.ensure_defined(blocked.model_copy(update={"block_outbound_smtp": False, "generation": 3}))
    assert _bindings_of(driver.conn, dom) == [(CLEAN_TRAFFIC_FILTER, att.ip)]
    assert dom.ID() == qemu_id


def test_live_filter_is_repaired_even_when_generation_already_matches(
    driver, new_server, isolated_network
) -> None:
    # A crash between redefining and the live update leaves config new and live old: the next pass fixes it.
    att = isolated_network.attachment()
    server = new_server(networks=[att], block_outbound_smtp=True)
    dom = _running_on_network(driver, server)
    iface = _interface(dom)
    iface.find("filterref").set("filter", CLEAN_TRAFFIC_FILTER)
    dom.updateDeviceFlags(etree.tostring(iface, encoding="unicode"), libvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert _bindings_of(driver.conn, dom) == [(CLEAN_TRAFFIC_FILTER, att.ip)]
    driver.ensure_defined(server)
    assert _bindings_of(driver.conn, dom) == [(SMTP_BLOCK_FILTER, att.ip)]


def test_smtp_block_filter_includes_clean_traffic_and_drops_outbound_port_25(
    driver, new_server, isolated_network
) -> None:
    server = new_server(networks=[isolated_network.attachment()], block_outbound_smtp=True)
    driver.ensure_defined(server)
    root = etree.fromstring(driver.conn.nwfilterLookupByName(SMTP_BLOCK_FILTER).XMLDesc(0).encode())
    assert [r.get("filter") for r in root.iterfind("filterref")] == [CLEAN_TRAFFIC_FILTER]
    drops = [r for r in root.iterfind("rule") if r.get("action") == "drop" and r.get("direction") == "out"]
    assert any(r.find("tcp") is not None and r.find("tcp").get("dstportstart") == "25" for r in drops)


def test_smtp_block_applied_while_saved_holds_after_resume(make_driver, new_server, isolated_network) -> None:
    driver = make_driver(suspend_mode="managedsave")
    att = isolated_network.attachment()
    server = new_server(networks=[att])
    dom = _running_on_network(driver, server)
    driver.suspend(server.id)
    driver.ensure_defined(server.model_copy(update={"block_outbound_smtp": True, "generation": 2}))
    driver.resume(server.id)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert _bindings_of(driver.conn, dom) == [(SMTP_BLOCK_FILTER, att.ip)]
