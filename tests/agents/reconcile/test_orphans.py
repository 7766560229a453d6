"""Domains dcloud did not create are reported as orphans and never touched."""

from __future__ import annotations

import libvirt
import pytest
from lxml import etree

from tests.agents.reconcile.helpers import domain_state
from tests.agents.reconcile.sources import MemorySource

pytestmark = pytest.mark.libvirt


def _foreign_domain_xml(name: str, domain_type: str) -> str:
    root = etree.Element("domain", type=domain_type)
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "memory", unit="MiB").text = "32"
    etree.SubElement(root, "vcpu").text = "1"
    os_el = etree.SubElement(root, "os")
    etree.SubElement(os_el, "type", arch="x86_64").text = "hvm"
    # No disk and no network: nothing to clean up but the domain itself.
    return etree.tostring(root, encoding="unicode")


def test_foreign_domain_is_reported_and_left_running(qemu_conn, run_id, make_server, make_reconciler) -> None:
    source = MemorySource([make_server(0, "stopped")])
    reconciler, driver = make_reconciler(qemu_conn, source)
    orphan_name = f"dctest-orphan-{run_id}"
    dom = qemu_conn.defineXML(_foreign_domain_xml(orphan_name, driver.domain_type))
    dom.create()

    reconciler.run_once()
    reconciler.run_once(resync=True)

    assert domain_state(qemu_conn, orphan_name) == libvirt.VIR_DOMAIN_RUNNING
    reported = {o.domain_name: o for o in source.reports[-1].orphans}
    assert orphan_name in reported
    assert reported[orphan_name].domain_uuid == dom.UUIDString()
    assert reported[orphan_name].state == "running"
    assert all(s.id != orphan_name for r in source.reports for s in r.servers)


def test_domain_named_like_ours_without_metadata_is_an_orphan(
    qemu_conn, run_id, make_server, make_reconciler
) -> None:
    """A `dcloud-<id>` name alone does not make a domain ours: the metadata must agree."""
    server = make_server(0, "deleted")
    source = MemorySource([server])
    reconciler, driver = make_reconciler(qemu_conn, source)
    impostor = driver.domain_name(server.id)
    qemu_conn.defineXML(_foreign_domain_xml(impostor, driver.domain_type)).create()

    reconciler.run_once()

    assert domain_state(qemu_conn, impostor) == libvirt.VIR_DOMAIN_RUNNING
    assert impostor in {o.domain_name for o in source.reports[-1].orphans}
    assert source.deletion_reports() == []
