"""The bandwidth cap of Art. 16(4)-17 on a server's interfaces, changed while the server keeps running.

libvirt keeps the cap as `<bandwidth><inbound average=../><outbound average=../></bandwidth>` on the
interface (kilobytes per second) and changes it live with `virDomainSetInterfaceParameters`; an average
of 0 removes that direction's limit, which is how a lifted cap disappears exactly.
"""

from __future__ import annotations

import libvirt
from lxml import etree

from controlplane.protocol import DesiredServer


def build_bandwidth(kbytes: int) -> etree._Element:
    """`<bandwidth>` limiting both directions to `kbytes` KB/s, for the domain definition."""
    bandwidth = etree.Element("bandwidth")
    etree.SubElement(bandwidth, "inbound", average=str(kbytes))
    etree.SubElement(bandwidth, "outbound", average=str(kbytes))
    return bandwidth


def interface_caps(xml: str) -> dict[str, tuple[int, int]]:
    """MAC -> (inbound, outbound) average KB/s of each interface of a domain XML (0: no limit)."""
    caps = {}
    for iface in etree.fromstring(xml.encode()).iterfind("devices/interface"):
        mac = iface.find("mac")
        if mac is None:
            continue
        caps[(mac.get("address") or "").lower()] = (_average(iface, "inbound"), _average(iface, "outbound"))
    return caps


def sync_bandwidth(dom: libvirt.virDomain, server: DesiredServer) -> int:
    """Make every interface's cap `server.bandwidth_kbytes` (None: uncapped), live and in the config;
    returns how many (interface, view) pairs changed."""
    want = server.bandwidth_kbytes or 0
    macs = {a.mac.lower() for a in server.networks}
    views = [(libvirt.VIR_DOMAIN_XML_INACTIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG)]
    if dom.isActive():
        views.append((0, libvirt.VIR_DOMAIN_AFFECT_LIVE))
    changed = 0
    for xml_flags, affect in views:
        for mac, have in interface_caps(dom.XMLDesc(xml_flags)).items():
            if mac not in macs or have == (want, want):
                continue
            params = {
                libvirt.VIR_DOMAIN_BANDWIDTH_IN_AVERAGE: want,
                libvirt.VIR_DOMAIN_BANDWIDTH_OUT_AVERAGE: want,
            }
            dom.setInterfaceParameters(mac, params, affect)
            changed += 1
    return changed


def _average(iface: etree._Element, direction: str) -> int:
    el = iface.find(f"bandwidth/{direction}")
    return int(el.get("average") or 0) if el is not None else 0
