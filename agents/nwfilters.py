"""dcloud's nwfilter (outbound SMTP block) and keeping a domain's interfaces on the filter they should use.

The partial restriction of Art. 16(4)-3..5 blocks outbound mail while the server keeps running: the
interface switches from libvirt's `clean-traffic` to `dcloud-clean-traffic-no-smtp`, which includes
clean-traffic (so anti-spoofing stays) and drops TCP to port 25 leaving the guest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import libvirt
from lxml import etree

from agents.domain_xml import CLEAN_TRAFFIC_FILTER, SMTP_BLOCK_FILTER, build_filterref
from controlplane.protocol import DesiredServer

log = logging.getLogger(__name__)

SMTP_PORT = 25


def build_smtp_block_filter_xml(name: str = SMTP_BLOCK_FILTER) -> str:
    """The filter: everything clean-traffic does, plus drop guest -> world TCP dport 25."""
    root = etree.Element("filter", name=name, chain="root")
    etree.SubElement(root, "filterref", filter=CLEAN_TRAFFIC_FILTER)
    # direction "out" is traffic leaving the guest; a low priority number runs before the included rules.
    rule = etree.SubElement(root, "rule", action="drop", direction="out", priority="-100")
    etree.SubElement(rule, "tcp", dstportstart=str(SMTP_PORT))
    rule6 = etree.SubElement(root, "rule", action="drop", direction="out", priority="-100")
    etree.SubElement(rule6, "tcp-ipv6", dstportstart=str(SMTP_PORT))
    return etree.tostring(root, encoding="unicode")


def nwfilter_supported(conn: libvirt.virConnect) -> bool:
    """False for connections without an nwfilter driver (libvirt's test:/// driver)."""
    try:
        conn.nwfilterLookupByName(CLEAN_TRAFFIC_FILTER)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
            log.warning("libvirt at %s has no nwfilter driver; traffic is not filtered", conn.getURI())
            return False
        if err.get_error_code() != libvirt.VIR_ERR_NO_NWFILTER:
            raise
    return True


def ensure_smtp_block_filter(conn: libvirt.virConnect, name: str = SMTP_BLOCK_FILTER) -> None:
    """Define the SMTP block filter unless an equivalent one already exists."""
    try:
        existing = conn.nwfilterLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_NWFILTER:
            raise
        existing = None
    # Redefining rebuilds the rules of every interface using the filter, so only do it when needed.
    if existing is None or not _has_smtp_drop(existing.XMLDesc(0)):
        conn.nwfilterDefineXML(build_smtp_block_filter_xml(name))
        log.info("defined nwfilter %s", name)


def sync_interface_filters(dom: libvirt.virDomain, server: DesiredServer, filter_name: str) -> int:
    """Point each of the server's interfaces at `filter_name` with its IP; returns how many changed.

    On a running domain the change is made live and in the persistent config (`updateDeviceFlags`), so
    the server keeps running while its traffic filter changes.
    """
    active = bool(dom.isActive())
    affect = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if active:
        affect |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    wanted = {a.mac.lower(): (filter_name, a.ip) for a in server.networks}
    xml_flags = 0 if active else libvirt.VIR_DOMAIN_XML_INACTIVE
    return _retarget(dom, xml_flags, wanted, affect)


def sync_live_filters_to_config(dom: libvirt.virDomain) -> int:
    """Make a running domain's interface filters what its persistent config says.

    A domain restored from a managed save image runs the XML stored in the image, which predates any
    filter change made while it was saved (an SMTP block applied during a suspension).
    """
    config = etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).encode())
    wanted = {
        _mac(iface): interface_filter(iface)
        for iface in config.iterfind("devices/interface")
        if iface.find("filterref") is not None
    }
    return _retarget(dom, 0, wanted, libvirt.VIR_DOMAIN_AFFECT_LIVE)


def _retarget(
    dom: libvirt.virDomain, xml_flags: int, wanted: Mapping[str, tuple[str | None, str | None]], affect: int
) -> int:
    """Update each interface (by MAC) of the XML view whose (filter, IP) differs from `wanted`."""
    changed = 0
    for iface in etree.fromstring(dom.XMLDesc(xml_flags).encode()).iterfind("devices/interface"):
        want = wanted.get(_mac(iface))
        if want is None or want[0] is None or interface_filter(iface) == want:
            continue
        for old in iface.findall("filterref"):
            iface.remove(old)
        iface.append(build_filterref(want[0], want[1]))
        dom.updateDeviceFlags(etree.tostring(iface, encoding="unicode"), affect)
        changed += 1
    return changed


def _mac(iface: etree._Element) -> str:
    mac = iface.find("mac")
    return (mac.get("address") or "").lower() if mac is not None else ""


def interface_filter(iface: etree._Element) -> tuple[str | None, str | None]:
    """(filter name, IP parameter) of one `<interface>` element."""
    ref = iface.find("filterref")
    if ref is None:
        return (None, None)
    ip = next((p.get("value") for p in ref.iterfind("parameter") if p.get("name") == "IP"), None)
    return (ref.get("filter"), ip)


def _has_smtp_drop(filter_xml: str) -> bool:
    root = etree.fromstring(filter_xml.encode())
    includes_clean = any(r.get("filter") == CLEAN_TRAFFIC_FILTER for r in root.iterfind("filterref"))
    drops_smtp = any(
        rule.get("action") == "drop"
        and rule.get("direction") == "out"
        and rule.find(f"tcp[@dstportstart='{SMTP_PORT}']") is not None
        for rule in root.iterfind("rule")
    )
    return includes_clean and drops_smtp
