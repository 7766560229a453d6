"""Quarantine, bandwidth cap and firewall on real libvirtd: in the live XML and the nwfilter bindings while
the server keeps running (TERMS-MAP §3, Art. 22(3) 2.2), and gone exactly when lifted or removed."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator

import libvirt
import pytest
from lxml import etree

from agents.bandwidth import interface_caps
from agents.domain_xml import CLEAN_TRAFFIC_FILTER
from agents.driver import LibvirtDriver
from agents.traffic_filters import quarantine_filter_name
from controlplane.protocol import DesiredServer, FirewallRule, FirewallSet
from tests.agents.driver.conftest import RUN, remove_run_domains

pytestmark = pytest.mark.libvirt

MGMT = ["203.0.113.0/28"]


def _kernel_can_shape() -> bool:
    """libvirt's `<bandwidth>` needs the htb, sfq and ingress qdiscs and the police action; minimal
    kernels (this sandbox's) lack sfq and police, so a live cap cannot be instantiated there."""
    bridge = f"dctq{secrets.token_hex(3)}"
    steps = [
        ["ip", "link", "add", bridge, "type", "bridge"],
        ["tc", "qdisc", "add", "dev", bridge, "root", "handle", "1:", "htb", "default", "1"],
        ["tc", "class", "add", "dev", bridge, "parent", "1:", "classid", "1:1", "htb", "rate", "1mbit"],
        ["tc", "qdisc", "add", "dev", bridge, "parent", "1:1", "handle", "2:", "sfq"],
        ["tc", "qdisc", "add", "dev", bridge, "ingress"],
        [
            "tc",
            "filter",
            "add",
            "dev",
            bridge,
            "parent",
            "ffff:",
            "protocol",
            "all",
            "u32",
            "match",
            "u32",
            "0",
            "0",
            "police",
            "rate",
            "1mbit",
            "burst",
            "10k",
            "drop",
            "flowid",
            ":1",
        ],
    ]
    try:
        return all(subprocess.run(cmd, capture_output=True).returncode == 0 for cmd in steps)
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


needs_shaping = pytest.mark.skipif(not _kernel_can_shape(), reason="kernel lacks sch_sfq / act_police")


@pytest.fixture
def filter_names(qemu_conn: libvirt.virConnect) -> Iterator[list[str]]:
    """Names of dcloud filters a test defines; undefined afterwards even when the test fails."""
    names: list[str] = []
    yield names
    remove_run_domains(qemu_conn)  # a filter in use cannot be undefined; this test's domains go first
    for name in reversed(names):
        with contextlib.suppress(libvirt.libvirtError):
            qemu_conn.nwfilterLookupByName(name).undefine()


def _bindings(conn: libvirt.virConnect, dom: libvirt.virDomain) -> list[str]:
    out = []
    for binding in conn.listAllNWFilterBindings(0):
        root = etree.fromstring(binding.XMLDesc(0).encode())
        if root.findtext("owner/uuid") == dom.UUIDString():
            out.append(root.find("filterref").get("filter"))
    return out


def _running(driver: LibvirtDriver, server: DesiredServer) -> libvirt.virDomain:
    driver.ensure_network_binding(server)
    driver.ensure_defined(server)
    driver.start(server.id)
    return driver.conn.lookupByName(driver.domain_name(server.id))


def _firewall(name: str) -> FirewallSet:
    return FirewallSet(
        name=name,
        rules=[
            FirewallRule(direction="in", protocol="tcp", port_from=22, prefix="198.51.100.0/24"),
            FirewallRule(direction="in", protocol="tcp", port_from=8000, port_to=8080),
            FirewallRule(direction="out", protocol="udp", port_from=53),
        ],
        inbound_default="drop",
        outbound_default="accept",
    )


def test_quarantine_binds_the_management_only_filter_live_and_lift_restores_clean_traffic(
    driver, new_server, isolated_network, filter_names
) -> None:
    server = new_server(networks=[isolated_network.attachment()])
    dom = _running(driver, server)
    qemu_id = dom.ID()
    quarantined = server.model_copy(update={"quarantine": True, "quarantine_allow": MGMT})
    filter_names.append(quarantine_filter_name(MGMT))

    driver.ensure_defined(quarantined)
    assert _bindings(driver.conn, dom) == [quarantine_filter_name(MGMT)]
    assert dom.ID() == qemu_id and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING

    driver.ensure_defined(server)
    assert _bindings(driver.conn, dom) == [CLEAN_TRAFFIC_FILTER]
    assert dom.ID() == qemu_id


def test_quarantine_filter_allows_only_dhcp_and_the_management_prefix(
    driver, new_server, isolated_network, filter_names
) -> None:
    server = new_server(networks=[isolated_network.attachment()], quarantine=True, quarantine_allow=MGMT)
    filter_names.append(quarantine_filter_name(MGMT))
    driver.ensure_defined(server)
    root = etree.fromstring(
        driver.conn.nwfilterLookupByName(quarantine_filter_name(MGMT)).XMLDesc(0).encode()
    )
    assert [r.get("filter") for r in root.iterfind("filterref")] == [CLEAN_TRAFFIC_FILTER]
    accepts = [r[0] for r in root.iterfind("rule") if r.get("action") == "accept"]
    assert {(a.tag, a.get("srcipaddr") or a.get("dstipaddr")) for a in accepts} == {
        ("udp", None),
        ("all", "203.0.113.0"),
    }
    assert [r[0].tag for r in root.iterfind("rule") if r.get("action") == "drop"] == ["all"]


@needs_shaping
def test_bandwidth_cap_appears_in_the_live_xml_while_running_and_lift_removes_it(
    driver, new_server, isolated_network
) -> None:
    att = isolated_network.attachment()
    server = new_server(networks=[att])
    dom = _running(driver, server)
    qemu_id = dom.ID()

    driver.ensure_defined(server.model_copy(update={"bandwidth_kbytes": 1250}))
    assert interface_caps(dom.XMLDesc(0))[att.mac] == (1250, 1250)
    assert interface_caps(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))[att.mac] == (1250, 1250)
    assert dom.ID() == qemu_id and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING

    driver.ensure_defined(server)
    assert interface_caps(dom.XMLDesc(0))[att.mac] == (0, 0)
    assert interface_caps(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))[att.mac] == (0, 0)
    assert dom.ID() == qemu_id


def test_bandwidth_cap_is_set_and_lifted_in_a_stopped_servers_definition(
    driver, new_server, isolated_network
) -> None:
    att = isolated_network.attachment()
    server = new_server(networks=[att], desired_state="stopped")
    driver.ensure_defined(server)
    dom = driver.conn.lookupByName(driver.domain_name(server.id))
    driver.ensure_defined(server.model_copy(update={"bandwidth_kbytes": 1250}))
    assert interface_caps(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))[att.mac] == (1250, 1250)
    driver.ensure_defined(server)
    assert interface_caps(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))[att.mac] == (0, 0)


def test_bandwidth_cap_survives_a_redefinition_of_the_domain(driver, new_server, isolated_network) -> None:
    att = isolated_network.attachment()
    server = new_server(networks=[att], bandwidth_kbytes=500, desired_state="stopped")
    driver.ensure_defined(server)
    dom = driver.conn.lookupByName(driver.domain_name(server.id))
    driver.ensure_defined(server.model_copy(update={"generation": 2}))
    assert interface_caps(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))[att.mac] == (500, 500)


def test_firewall_is_a_filter_binding_on_every_server_of_the_contract(
    driver, new_server, isolated_network, filter_names
) -> None:
    firewall = _firewall(f"dcloud-fw-dctest{RUN}-a")
    filter_names.append(firewall.name)
    doms = [
        _running(driver, new_server(networks=[isolated_network.attachment(10 + i)], firewall=firewall))
        for i in range(2)
    ]
    assert [_bindings(driver.conn, d) for d in doms] == [[firewall.name], [firewall.name]]
    root = etree.fromstring(driver.conn.nwfilterLookupByName(firewall.name).XMLDesc(0).encode())
    assert [r.get("filter") for r in root.iterfind("filterref")] == [CLEAN_TRAFFIC_FILTER]
    ssh = [r for r in root.iterfind("rule") if r.find("tcp[@dstportstart='22']") is not None]
    assert ssh[0].get("direction") == "in" and ssh[0].find("tcp").get("srcipaddr") == "198.51.100.0"


def test_firewall_with_smtp_block_layers_the_drop_on_the_rule_set(
    driver, new_server, isolated_network, filter_names
) -> None:
    firewall = _firewall(f"dcloud-fw-dctest{RUN}-b")
    filter_names += [firewall.name, firewall.name + "-no-smtp"]
    server = new_server(networks=[isolated_network.attachment()], firewall=firewall)
    dom = _running(driver, server)
    driver.ensure_defined(server.model_copy(update={"block_outbound_smtp": True}))
    assert _bindings(driver.conn, dom) == [firewall.name + "-no-smtp"]
    root = etree.fromstring(driver.conn.nwfilterLookupByName(firewall.name + "-no-smtp").XMLDesc(0).encode())
    assert [r.get("filter") for r in root.iterfind("filterref")] == [firewall.name]


def test_firewall_filter_is_gone_once_its_servers_are_deleted(
    driver, new_server, isolated_network, filter_names
) -> None:
    firewall = _firewall(f"dcloud-fw-dctest{RUN}-c")
    filter_names.append(firewall.name)
    server = new_server(networks=[isolated_network.attachment()], firewall=firewall)
    dom = _running(driver, server)
    assert firewall.name not in driver.prune_traffic_filters([server])  # wanted: kept
    driver.destroy_and_undefine(server.id)
    assert _bindings(driver.conn, dom) == []
    assert firewall.name in driver.prune_traffic_filters([])
    with pytest.raises(libvirt.libvirtError):
        driver.conn.nwfilterLookupByName(firewall.name)
