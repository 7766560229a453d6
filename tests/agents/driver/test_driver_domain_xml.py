"""The domain XML builder: structure, escaping of customer names, and recognising dcloud domains."""

from __future__ import annotations

import pytest
from lxml import etree

from agents.domain_xml import (
    CLEAN_TRAFFIC_FILTER,
    METADATA_NS,
    SMTP_BLOCK_FILTER,
    DomainXmlError,
    build_domain_xml,
    domain_title,
    parse_server_id,
)
from controlplane.protocol import DesiredServer, NetworkAttachment

NASTY_NAMES = ["a'<b>&\"", "line one\nline two", "한국어 서버 ✓", "x]]>y", "<![CDATA[z]]>", "&amp;"]


def _server(name: str = "web-1", **kw: object) -> DesiredServer:
    fields: dict[str, object] = dict(
        id="srv1", name=name, vcpus=2, memory_mib=128, disk_gib=1, desired_state="running", generation=3
    )
    fields.update(kw)
    return DesiredServer.model_validate(fields)


def _build(server: DesiredServer) -> etree._Element:
    xml = build_domain_xml(server, domain_type="kvm", volume_path="/pool/dcloud-srv1-disk0")
    return etree.fromstring(xml.encode())


def _strip_name(root: etree._Element) -> bytes:
    root.find("title").text = ""
    root.find(f"metadata/{{{METADATA_NS}}}server/{{{METADATA_NS}}}name").text = ""
    return etree.tostring(root, method="c14n")


def test_domain_has_name_metadata_sizes_disk() -> None:
    root = _build(_server())
    assert root.get("type") == "kvm"
    assert root.findtext("name") == "dcloud-srv1"
    assert root.findtext("title") == "web-1"
    meta = root.find(f"metadata/{{{METADATA_NS}}}server")
    assert [(etree.QName(c).localname, c.text) for c in meta] == [
        ("id", "srv1"),
        ("name", "web-1"),
        ("generation", "3"),
    ]
    assert root.findtext("memory") == "128" and root.find("memory").get("unit") == "MiB"
    assert root.findtext("vcpu") == "2"
    disk = root.find("devices/disk")
    assert disk.find("source").get("file") == "/pool/dcloud-srv1-disk0"
    assert disk.find("driver").get("type") == "raw"
    assert disk.find("target").get("bus") == "virtio"


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_nasty_name_is_text_only_and_changes_nothing_else(name: str) -> None:
    root = _build(_server(name))
    assert root.find(f"metadata/{{{METADATA_NS}}}server/{{{METADATA_NS}}}name").text == name
    assert root.findtext("title") == domain_title(name)
    assert _strip_name(root) == _strip_name(_build(_server("plain")))


def test_title_keeps_name_exactly_unless_it_has_line_breaks() -> None:
    assert domain_title("a'<b>&\"") == "a'<b>&\""
    assert "\n" not in domain_title("a\nb") and domain_title("a\nb") != domain_title("a b")


def test_control_characters_are_refused() -> None:
    with pytest.raises(DomainXmlError):
        _build(_server("bell\x07"))


@pytest.mark.parametrize("bad_id", ["", "a/b", "../x", "a b", "x" * 65, "-lead"])
def test_unsafe_server_ids_are_refused(bad_id: str) -> None:
    with pytest.raises(DomainXmlError):
        _build(_server(id=bad_id))


def test_interfaces_carry_mac_network_and_clean_traffic_with_ip() -> None:
    nets = [NetworkAttachment(network="pub", mac="52:54:00:AA:00:01", ip="192.0.2.10")]
    iface = _build(_server(networks=nets)).find("devices/interface")
    assert iface.get("type") == "network"
    assert iface.find("mac").get("address") == "52:54:00:aa:00:01"
    assert iface.find("source").get("network") == "pub"
    ref = iface.find("filterref")
    assert ref.get("filter") == CLEAN_TRAFFIC_FILTER
    assert [(p.get("name"), p.get("value")) for p in ref] == [("IP", "192.0.2.10")]


def test_blocked_smtp_references_dcloud_filter() -> None:
    nets = [NetworkAttachment(network="pub", mac="52:54:00:aa:00:01", ip="192.0.2.10")]
    server = _server(networks=nets, block_outbound_smtp=True)
    assert _build(server).find("devices/interface/filterref").get("filter") == SMTP_BLOCK_FILTER
    custom = build_domain_xml(server, domain_type="qemu", volume_path="/p", smtp_filter="other")
    assert etree.fromstring(custom.encode()).find("devices/interface/filterref").get("filter") == "other"


def test_uuid_is_kept_when_given() -> None:
    uuid = "6f1c2d3e-0000-4000-8000-000000000001"
    xml = build_domain_xml(_server(), domain_type="kvm", volume_path="/p", uuid=uuid)
    assert etree.fromstring(xml.encode()).findtext("uuid") == uuid


def test_parse_server_id_from_name_and_xml() -> None:
    assert parse_server_id("dcloud-srv1") == "srv1"
    assert parse_server_id("other-vm") is None
    assert parse_server_id("dcloud-") is None
    xml = build_domain_xml(_server(), domain_type="kvm", volume_path="/p")
    assert parse_server_id(xml) == "srv1"


def test_parse_server_id_needs_matching_metadata() -> None:
    assert parse_server_id("<domain><name>dcloud-srv1</name></domain>") is None
    xml = build_domain_xml(_server(), domain_type="kvm", volume_path="/p").replace(
        "<name>dcloud-srv1</name>", "<name>dcloud-srv2</name>"
    )
    assert parse_server_id(xml) is None
    assert parse_server_id("<broken") is None
