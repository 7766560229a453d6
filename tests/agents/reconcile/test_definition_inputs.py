"""What shapes a domain besides its generation still reaches libvirt: an SMTP block that begins on its
announced day changes no server row, yet the next pass must put the blocking filter on the interface."""

from __future__ import annotations

import pytest

from agents.nwfilters import SMTP_BLOCK_FILTER
from tests.agents.reconcile.sources import MemorySource
from tests.utils.libvirt_net import filter_bindings, isolated_network

pytestmark = pytest.mark.libvirt


def test_smtp_block_reaches_the_running_domain_without_a_generation_bump(
    qemu_conn, run_id, make_server, make_reconciler
) -> None:
    with isolated_network(qemu_conn, f"{run_id}-net") as net:
        attachment = net.attachment()
        server = make_server(0, "running", networks=[attachment])
        source = MemorySource([server])
        reconciler, driver = make_reconciler(qemu_conn, source)
        reconciler.run_once()
        dom = qemu_conn.lookupByName(driver.domain_name(server.id))
        qemu_id = dom.ID()
        assert filter_bindings(qemu_conn, attachment.mac) == [("clean-traffic", attachment.ip)]

        source.servers[server.id] = server.model_copy(update={"block_outbound_smtp": True})  # same generation
        reconciler.run_once()

        assert filter_bindings(qemu_conn, attachment.mac) == [(SMTP_BLOCK_FILTER, attachment.ip)]
        assert dom.ID() == qemu_id  # kept running throughout
