"""DHCP host entries (MAC -> IP) on a libvirt network, so a server gets exactly its lent address (Art. 24)."""

from __future__ import annotations

import libvirt
from lxml import etree

from controlplane.protocol import NetworkAttachment

_ADD = libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST
_DELETE = libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE
_DHCP_HOST = libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST


def ensure_dhcp_host(conn: libvirt.virConnect, attachment: NetworkAttachment) -> None:
    """Make the network hand `attachment.ip` to `attachment.mac`, in its live state and its config."""
    net = conn.networkLookupByName(attachment.network)
    mac = attachment.mac.lower()
    for xml_flags, affect in _views(net):
        hosts = _dhcp_hosts(net, xml_flags)
        if any(_same(h, mac, attachment.ip) for h in hosts):
            continue
        # An entry holding this MAC or this IP is stale (the control plane lends each IP to one
        # server at a time), and libvirt refuses to add a duplicate of either: drop it first.
        for host in hosts:
            if (host.get("mac") or "").lower() == mac or host.get("ip") == attachment.ip:
                net.update(_DELETE, _DHCP_HOST, -1, etree.tostring(host, encoding="unicode"), affect)
        entry = etree.Element("host", mac=mac, ip=attachment.ip)
        net.update(_ADD, _DHCP_HOST, -1, etree.tostring(entry, encoding="unicode"), affect)


def remove_dhcp_host(conn: libvirt.virConnect, attachment: NetworkAttachment) -> None:
    """Remove the MAC -> IP entry of `attachment`, if present (missing network or entry: nothing to do)."""
    try:
        net = conn.networkLookupByName(attachment.network)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
            return
        raise
    for xml_flags, affect in _views(net):
        for host in _dhcp_hosts(net, xml_flags):
            if _same(host, attachment.mac.lower(), attachment.ip):
                net.update(_DELETE, _DHCP_HOST, -1, etree.tostring(host, encoding="unicode"), affect)


def dhcp_hosts(net: libvirt.virNetwork) -> dict[str, str]:
    """MAC -> IP of the network's current DHCP host entries (live view when running)."""
    return {(h.get("mac") or "").lower(): h.get("ip") or "" for h in _dhcp_hosts(net, 0)}


def _views(net: libvirt.virNetwork) -> list[tuple[int, int]]:
    """(XMLDesc flags, update flags) per view; live and config are checked apart since either may lag."""
    live, config = libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE, libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
    if not net.isActive():
        return [(0, config)]  # an inactive network's XML is its config
    if not net.isPersistent():
        return [(0, live)]
    if not _has_inactive_xml(net):
        return [(0, live | config)]
    return [(libvirt.VIR_NETWORK_XML_INACTIVE, config), (0, live)]


def _has_inactive_xml(net: libvirt.virNetwork) -> bool:
    """libvirt's test driver cannot show a running network's config apart from its live state."""
    try:
        net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)
    except libvirt.libvirtError as err:
        if err.get_error_code() in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
            return False
        raise
    return True


def _dhcp_hosts(net: libvirt.virNetwork, xml_flags: int) -> list[etree._Element]:
    root = etree.fromstring(net.XMLDesc(xml_flags).encode())
    return list(root.iterfind("ip/dhcp/host"))


def _same(host: etree._Element, mac: str, ip: str) -> bool:
    return (host.get("mac") or "").lower() == mac and host.get("ip") == ip
