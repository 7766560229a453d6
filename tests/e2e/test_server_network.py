"""Art. 24 end to end: the address the control plane lends a server reaches its domain through the real
agent: the MAC/IP DHCP entry on the host's libvirt network and the clean-traffic filter bound to that IP,
as libvirt itself reports them; a wiped server's entry is gone and its address is in quarantine."""

from __future__ import annotations

import libvirt
import pytest
from lxml import etree

from tests.e2e.stack import LiveStack, wait_for
from tests.utils.libvirt_net import TestNetwork, filter_bindings, isolated_network

pytestmark = [pytest.mark.libvirt]


def _dhcp_hosts(conn: libvirt.virConnect, network: str) -> set[tuple[str, str]]:
    xml = etree.fromstring(conn.networkLookupByName(network).XMLDesc(0).encode())
    return {(h.get("mac"), h.get("ip")) for h in xml.iterfind("ip/dhcp/host")}


def _pool_for(stack: LiveStack, net: TestNetwork) -> int:
    hosts = list(net.subnet.hosts())
    body = {
        "name": f"{net.name}-pool",
        "cidr": str(net.subnet),
        "gateway": str(hosts[0]),
        "network_name": net.name,
        "host_names": [stack.host_name],
    }
    stack.wait_for_reported_network(net.name)
    response = stack.api("POST", "/v1/pools", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_leased_address_is_bound_on_the_running_domain_and_released_after_the_wipe(stack: LiveStack) -> None:
    with isolated_network(stack.conn, f"{stack.run_id}-net") as net:
        pool_id = _pool_for(stack, net)
        sid = stack.create_server("dctest e2e addressed")["id"]
        desired = stack.api("GET", f"/v1/hosts/{stack.host_name}/servers/{sid}/desired-state").json()
        (lease,) = desired["networks"]
        wait_for(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="domain running")

        dom_xml = etree.fromstring(stack.conn.lookupByName(f"dcloud-{sid}").XMLDesc(0).encode())
        iface = dom_xml.find("devices/interface")
        assert iface.find("mac").get("address") == lease["mac"]
        assert iface.find("source").get("network") == net.name
        assert filter_bindings(stack.conn, lease["mac"]) == [("clean-traffic", lease["ip"])]
        assert (lease["mac"], lease["ip"]) in _dhcp_hosts(stack.conn, net.name)

        stack.api("DELETE", f"/v1/servers/{sid}")
        wait_for(
            lambda: stack.api("GET", f"/v1/servers/{sid}/deletion-record").status_code == 200,
            what="the deletion record",
        )
        assert (lease["mac"], lease["ip"]) not in _dhcp_hosts(stack.conn, net.name)
        use = stack.api("GET", f"/v1/pools/{pool_id}/utilisation").json()
        assert (use["assigned"], use["quarantined"]) == (0, 1)
