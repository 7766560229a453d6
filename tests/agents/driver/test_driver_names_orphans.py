"""Customer names as libvirt stores them, and domains dcloud did not create (orphans)."""

from __future__ import annotations

import libvirt
import pytest
from lxml import etree

from agents.domain_xml import METADATA_NS, domain_title, parse_metadata
from agents.driver import LibvirtDriver, NotOurDomain

pytestmark = pytest.mark.libvirt

NASTY = ["a'<b>&\"", "x]]>y <![CDATA[z]]>", "서버 ✓ ünïcode 🚀", "first line\nsecond line"]


def _without_name(dom: libvirt.virDomain) -> bytes:
    """The domain's config XML with the two places the customer name lives blanked."""
    root = etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).encode())
    title = root.find("title")
    if title is not None:
        root.remove(title)
    meta = root.find(f"metadata/{{{METADATA_NS}}}server")
    meta.find(f"{{{METADATA_NS}}}name").text = ""
    meta.find(f"{{{METADATA_NS}}}generation").text = ""
    return etree.tostring(root, method="c14n")


@pytest.mark.parametrize("name", NASTY)
def test_nasty_name_round_trips_through_libvirt_and_changes_nothing_else(
    driver: LibvirtDriver, new_server, name: str
) -> None:
    plain = new_server(name="plain")
    driver.ensure_defined(plain)
    dom = driver.conn.lookupByName(driver.domain_name(plain.id))
    before = _without_name(dom)

    driver.ensure_defined(plain.model_copy(update={"name": name, "generation": 2}))
    title = dom.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None, 0)
    assert title == domain_title(name)
    if "\n" not in name:
        assert title == name  # libvirt forbids newlines in titles; everything else is exact
    meta = parse_metadata(dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0))
    assert meta["name"] == name
    assert _without_name(dom) == before


def _define_foreign(conn: libvirt.virConnect, name: str) -> libvirt.virDomain:
    root = etree.Element("domain", type="kvm")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "memory", unit="MiB").text = "64"
    etree.SubElement(etree.SubElement(root, "os"), "type").text = "hvm"
    return conn.defineXML(etree.tostring(root, encoding="unicode"))


@pytest.fixture
def foreign_domain(qemu_conn: libvirt.virConnect, new_server):
    """A running domain created outside dcloud (named with this run's prefix so cleanup finds it)."""
    probe = new_server()  # only for its run-unique id
    dom = _define_foreign(qemu_conn, f"{probe.id}-foreign")
    dom.create()
    yield dom
    dom.destroy()
    dom.undefine()


def test_foreign_domain_is_reported_as_orphan_and_left_running(
    driver: LibvirtDriver, new_server, foreign_domain: libvirt.virDomain
) -> None:
    ours = new_server()
    driver.ensure_defined(ours)
    orphans = {o.domain_name: o for o in driver.orphans()}
    report = orphans[foreign_domain.name()]
    assert report.domain_uuid == foreign_domain.UUIDString() and report.state == "running"
    assert driver.domain_name(ours.id) not in orphans
    managed = driver.managed_domains()
    assert ours.id in managed and foreign_domain.name() not in managed
    assert foreign_domain.state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_domain_named_like_ours_without_metadata_is_an_orphan_and_untouched(
    driver: LibvirtDriver, new_server
) -> None:
    server_id = new_server().id
    impostor = _define_foreign(driver.conn, f"dcloud-{server_id}")
    assert server_id not in driver.managed_domains()
    assert impostor.name() in {o.domain_name for o in driver.orphans()}
    assert driver.observe(server_id) == "error"
    with pytest.raises(NotOurDomain):
        driver.destroy_and_undefine(server_id)
    with pytest.raises(NotOurDomain):
        driver.ensure_defined(new_server(id=server_id))
    assert driver.conn.lookupByName(impostor.name()).UUIDString() == impostor.UUIDString()
