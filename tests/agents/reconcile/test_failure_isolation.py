"""One server's failure is counted and reported, and never stops the others (test:///default)."""

from __future__ import annotations

import libvirt
from lxml import etree
from prometheus_client import CollectorRegistry

from agents.driver import LibvirtDriver
from agents.image_cache import ImageBeingFetched
from agents.journal import DeletionJournal
from agents.metrics import AgentMetrics
from agents.reconcile import Reconciler
from controlplane.protocol import DesiredServer
from tests.agents.reconcile.helpers import domain_state
from tests.agents.reconcile.sources import MemorySource


def _foreign_xml(name: str) -> str:
    """A domain someone else defined under a name that looks like ours, without dcloud metadata."""
    root = etree.Element("domain", type="test")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "memory", unit="MiB").text = "32"
    etree.SubElement(etree.SubElement(root, "os"), "type").text = "hvm"
    return etree.tostring(root, encoding="unicode")


def test_a_failing_server_does_not_stop_the_others(test_conn, run_id, make_server, tmp_path) -> None:
    blocked, healthy = make_server(0, "running"), make_server(1, "running")
    source = MemorySource([blocked, healthy])
    driver = LibvirtDriver(test_conn, pool_name=run_id, pool_path=f"/{run_id}", stop_timeout_s=1.0)
    driver.ensure_pool()
    registry = CollectorRegistry()
    reconciler = Reconciler(driver, source, DeletionJournal(tmp_path), AgentMetrics(registry))
    squatter = test_conn.defineXML(_foreign_xml(driver.domain_name(blocked.id)))

    result = reconciler.run_once()

    assert set(result.errors) == {blocked.id}
    assert domain_state(test_conn, driver.domain_name(healthy.id)) == libvirt.VIR_DOMAIN_RUNNING
    assert squatter.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF  # not ours: never started or redefined
    states = {s.id: s.state for s in source.reports[-1].servers}
    assert states == {blocked.id: "error", healthy.id: "running"}
    assert registry.get_sample_value("dcloud_agent_reconcile_errors_total", {"kind": "libvirt"}) == 1
    assert driver.domain_name(blocked.id) in {o.domain_name for o in source.reports[-1].orphans}


def test_a_server_waiting_for_an_image_being_fetched_is_pending_not_error_and_retried_next_pass(
    test_conn, run_id, make_server, tmp_path, monkeypatch
) -> None:
    # Its worker returns at once (agents/image_cache.py): the pass reports it pending with the reason.
    waiting, healthy = make_server(0, "running"), make_server(1, "running")
    source = MemorySource([waiting, healthy])
    driver = LibvirtDriver(test_conn, pool_name=run_id, pool_path=f"/{run_id}", stop_timeout_s=1.0)
    driver.ensure_pool()
    registry = CollectorRegistry()
    reconciler = Reconciler(driver, source, DeletionJournal(tmp_path), AgentMetrics(registry))
    define = driver.ensure_defined
    reason = "waiting for image img1, being fetched for another server"

    def image_being_fetched(server: DesiredServer) -> None:
        if server.id == waiting.id:
            raise ImageBeingFetched(reason)
        define(server)

    monkeypatch.setattr(driver, "ensure_defined", image_being_fetched)
    result = reconciler.run_once()

    assert result.errors == {}
    reported = {s.id: (s.state, s.detail) for s in source.reports[-1].servers}
    assert reported == {waiting.id: ("pending", reason), healthy.id: ("running", None)}
    errors = registry.get_sample_value("dcloud_agent_reconcile_errors_total", {"kind": "internal"})
    assert not errors

    monkeypatch.setattr(driver, "ensure_defined", define)  # fetched meanwhile
    reconciler.run_once()
    assert {s.id: s.state for s in source.reports[-1].servers} == {
        waiting.id: "running",
        healthy.id: "running",
    }
