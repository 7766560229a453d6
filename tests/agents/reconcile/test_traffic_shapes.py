"""Quarantine, bandwidth cap and firewall through the reconcile loop on real libvirtd: a change of the
desired state alone (no generation bump) reaches the running domains, and a terminated contract's
firewall filter is gone once its servers are deleted (Art. 20(8))."""

from __future__ import annotations

import contextlib

import libvirt
import pytest

from agents.traffic_filters import quarantine_filter_name
from controlplane.protocol import FirewallRule, FirewallSet
from tests.agents.reconcile.sources import MemorySource
from tests.utils.libvirt_net import filter_bindings, isolated_network

pytestmark = pytest.mark.libvirt

MGMT = ["203.0.113.0/28"]


def _undefine(conn: libvirt.virConnect, name: str) -> None:
    with contextlib.suppress(libvirt.libvirtError):
        conn.nwfilterLookupByName(name).undefine()


def test_quarantine_reaches_the_running_domain_and_lifting_it_restores_clean_traffic(
    qemu_conn, run_id, make_server, make_reconciler
) -> None:
    with isolated_network(qemu_conn, f"{run_id}-net") as net:
        att = net.attachment()
        server = make_server(0, "running", networks=[att])
        source = MemorySource([server])
        reconciler, driver = make_reconciler(qemu_conn, source)
        try:
            reconciler.run_once()
            dom = qemu_conn.lookupByName(driver.domain_name(server.id))
            qemu_id = dom.ID()
            source.servers[server.id] = server.model_copy(
                update={"quarantine": True, "quarantine_allow": MGMT}
            )
            reconciler.run_once()
            assert filter_bindings(qemu_conn, att.mac) == [(quarantine_filter_name(MGMT), att.ip)]
            source.servers[server.id] = server
            reconciler.run_once()
            assert filter_bindings(qemu_conn, att.mac) == [("clean-traffic", att.ip)]
            assert dom.ID() == qemu_id
        finally:
            with contextlib.suppress(libvirt.libvirtError):
                qemu_conn.lookupByName(driver.domain_name(server.id)).destroy()
            _undefine(qemu_conn, quarantine_filter_name(MGMT))


def test_a_firewall_binds_on_every_server_and_is_gone_after_their_deletion(
    qemu_conn, run_id, make_server, make_reconciler
) -> None:
    firewall = FirewallSet(
        name=f"dcloud-fw-{run_id}",
        rules=[FirewallRule(direction="in", protocol="tcp", port_from=443)],
    )
    with isolated_network(qemu_conn, f"{run_id}-net") as net:
        atts = [net.attachment(10), net.attachment(11)]
        servers = [make_server(i, "running", networks=[a], firewall=firewall) for i, a in enumerate(atts)]
        source = MemorySource(servers)
        reconciler, _driver = make_reconciler(qemu_conn, source)
        try:
            assert reconciler.run_once().errors == {}
            assert [filter_bindings(qemu_conn, a.mac) for a in atts] == [
                [(firewall.name, a.ip)] for a in atts
            ]
            for server in servers:
                source.set_state(server.id, "deleted")
            assert reconciler.run_once().errors == {}
            assert [filter_bindings(qemu_conn, a.mac) for a in atts] == [[], []]
            with pytest.raises(libvirt.libvirtError):
                qemu_conn.nwfilterLookupByName(firewall.name)
        finally:
            _undefine(qemu_conn, firewall.name)
