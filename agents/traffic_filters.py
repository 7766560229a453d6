"""The nwfilters behind partial restrictions and the firewall add-on, layered on the anti-spoofing filter.

An interface references exactly one filter, so each combination has its own, each including what it
builds on (like Nova's security groups over `nova-base`):

- `clean-traffic`: libvirt's anti-spoofing filter, for a server with nothing else;
- `dcloud-clean-traffic-no-smtp`: + outbound TCP 25 dropped (Art. 16(4)-3..5, agents/nwfilters.py);
- `dcloud-fw-<contract>`: + the contract's firewall rules and default policies (Art. 22(3) 2.2);
- `dcloud-fw-<contract>-no-smtp`: the firewall + outbound TCP 25 dropped;
- `dcloud-quarantine-<hash>`: only DHCP, ARP and the company's management prefixes (Art. 16(4)-6,13,14,16);
  it wins over everything else, since a quarantined server may reach nothing a firewall could allow.

Rule priorities (lower runs first): DHCP -300, SMTP drop -100, firewall allow rules 0..255, default
accepts 400, default drops 600, so the reply half libvirt adds to each accept (connection state
matching) always precedes a default drop.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterable

import libvirt
from lxml import etree

from agents.filter_names import CLEAN_TRAFFIC_FILTER, SMTP_BLOCK_FILTER
from controlplane.protocol import (
    DesiredServer,
    DesiredState,
    FirewallAction,
    FirewallProtocol,
    FirewallRule,
    FirewallSet,
)

log = logging.getLogger(__name__)

FIREWALL_PREFIX = "dcloud-fw-"
QUARANTINE_PREFIX = "dcloud-quarantine-"
NO_SMTP_SUFFIX = "-no-smtp"
_SMTP_PORT = 25
_DHCP_PRIORITY, _SMTP_PRIORITY, _ACCEPT_DEFAULT, _DROP_DEFAULT = -300, -100, 400, 600


def quarantine_filter_name(allowed: Iterable[str]) -> str:
    """One filter per set of management prefixes, so two settings never redefine each other's filter."""
    digest = hashlib.sha256(",".join(sorted(allowed)).encode()).hexdigest()[:8]
    return f"{QUARANTINE_PREFIX}{digest}"


def traffic_filter_name(server: DesiredServer) -> str:
    """The one filter every interface of `server` references now."""
    if server.quarantine:
        return quarantine_filter_name(server.quarantine_allow)
    if server.firewall is not None:
        return server.firewall.name + (NO_SMTP_SUFFIX if server.block_outbound_smtp else "")
    return SMTP_BLOCK_FILTER if server.block_outbound_smtp else CLEAN_TRAFFIC_FILTER


def filter_definitions(server: DesiredServer) -> list[str]:
    """The XML of every dcloud filter `traffic_filter_name(server)` needs, included ones first."""
    if server.quarantine:
        return [quarantine_filter_xml(server.quarantine_allow)]
    if server.firewall is None:
        return []  # clean-traffic is libvirt's; the SMTP filter is ensured by agents/nwfilters.py
    out = [firewall_filter_xml(server.firewall)]
    if server.block_outbound_smtp:
        out.append(_with_smtp_drop(server.firewall.name + NO_SMTP_SUFFIX, server.firewall.name))
    return out


def quarantine_filter_xml(allowed: Iterable[str]) -> str:
    prefixes = sorted(allowed)
    root = _filter(quarantine_filter_name(prefixes), CLEAN_TRAFFIC_FILTER)
    _dhcp(root)
    for prefix in prefixes:
        net = ipaddress.ip_network(prefix, strict=False)
        if net.version != 4:
            continue  # clean-traffic drops every non-IPv4 frame already
        _rule(
            root,
            "accept",
            "out",
            -200,
            "all",
            dstipaddr=str(net.network_address),
            dstipmask=str(net.prefixlen),
        )
        _rule(
            root,
            "accept",
            "in",
            -200,
            "all",
            srcipaddr=str(net.network_address),
            srcipmask=str(net.prefixlen),
        )
    _rule(root, "drop", "inout", -150, "all")
    return etree.tostring(root, encoding="unicode")


def firewall_filter_xml(firewall: FirewallSet) -> str:
    root = _filter(firewall.name, CLEAN_TRAFFIC_FILTER)
    _dhcp(root)  # the server keeps getting its lent address whatever the policy (Art. 24)
    for index, rule in enumerate(firewall.rules):
        _allow(root, rule, priority=index)
    for direction, action in (("in", firewall.inbound_default), ("out", firewall.outbound_default)):
        priority = _ACCEPT_DEFAULT if action == FirewallAction.ACCEPT else _DROP_DEFAULT
        _rule(root, action.value, direction, priority, "all")
    return etree.tostring(root, encoding="unicode")


def _with_smtp_drop(name: str, base: str) -> str:
    root = _filter(name, base)
    _rule(root, "drop", "out", _SMTP_PRIORITY, "tcp", dstportstart=str(_SMTP_PORT))
    return etree.tostring(root, encoding="unicode")


def _allow(root: etree._Element, rule: FirewallRule, *, priority: int) -> None:
    attrs: dict[str, str] = {}
    if rule.prefix is not None:
        net = ipaddress.ip_network(rule.prefix, strict=False)
        side = "src" if rule.direction.value == "in" else "dst"  # the remote end of the packet
        attrs[f"{side}ipaddr"], attrs[f"{side}ipmask"] = str(net.network_address), str(net.prefixlen)
    if rule.protocol in (FirewallProtocol.TCP, FirewallProtocol.UDP) and rule.port_from is not None:
        attrs["dstportstart"] = str(rule.port_from)
        attrs["dstportend"] = str(rule.port_to or rule.port_from)
    _rule(root, "accept", rule.direction.value, priority, rule.protocol.value, **attrs)


def _filter(name: str, base: str) -> etree._Element:
    root = etree.Element("filter", name=name, chain="root")
    etree.SubElement(root, "filterref", filter=base)
    return root


def _dhcp(root: etree._Element) -> None:
    _rule(root, "accept", "out", _DHCP_PRIORITY, "udp", srcportstart="68", dstportstart="67")
    _rule(root, "accept", "in", _DHCP_PRIORITY, "udp", srcportstart="67", dstportstart="68")


def _rule(root: etree._Element, action: str, direction: str, priority: int, proto: str, **attrs: str) -> None:
    rule = etree.SubElement(root, "rule", action=action, direction=direction, priority=str(priority))
    etree.SubElement(rule, proto, **attrs)


def ensure_filters(conn: libvirt.virConnect, server: DesiredServer) -> None:
    """Define each filter the server needs unless libvirt already holds the same rules.

    Redefining a filter re-instantiates it on every interface using it, live: a firewall change
    reaches all the contract's servers on this host at once."""
    for xml in filter_definitions(server):
        name = etree.fromstring(xml.encode()).get("name") or ""
        if _shape(_existing_xml(conn, name)) != _shape(xml):
            conn.nwfilterDefineXML(xml)
            log.info("defined nwfilter %s", name)


def prune_unused_filters(conn: libvirt.virConnect, servers: Iterable[DesiredServer]) -> list[str]:
    """Undefine dcloud firewall and quarantine filters no listed server needs (Art. 20(8): a terminated
    contract's firewall configuration is removed). A filter still in use is left for the next pass."""
    live = [s for s in servers if s.desired_state != DesiredState.DELETED]
    wanted = {traffic_filter_name(s) for s in live} | {
        s.firewall.name for s in live if s.firewall is not None and not s.quarantine
    }
    removed = []
    for nwfilter in conn.listAllNWFilters(0):
        name = nwfilter.name()
        if not name.startswith((FIREWALL_PREFIX, QUARANTINE_PREFIX)) or name in wanted:
            continue
        try:
            nwfilter.undefine()
        except libvirt.libvirtError as err:
            log.info("nwfilter %s not removed yet: %s", name, err.get_error_message())
            continue
        removed.append(name)
    # An -no-smtp variant includes its base: retry bases once their variant is gone.
    if removed and any(n.endswith(NO_SMTP_SUFFIX) for n in removed):
        removed += prune_unused_filters(conn, servers)
    return removed


def _existing_xml(conn: libvirt.virConnect, name: str) -> str | None:
    try:
        return str(conn.nwfilterLookupByName(name).XMLDesc(0))
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_NWFILTER:
            raise
        return None


def _shape(xml: str | None) -> list[tuple[str, tuple[tuple[str, str], ...]]] | None:
    """The elements and attributes of a filter, without libvirt's additions (uuid, defaults)."""
    if xml is None:
        return None
    root = etree.fromstring(xml.encode())
    return [
        (el.tag, tuple(sorted((k, v) for k, v in el.attrib.items() if k != "priority" or el.tag == "rule")))
        for el in root.iter()
        if isinstance(el.tag, str) and el.tag != "uuid"
    ]
