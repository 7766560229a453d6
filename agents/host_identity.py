"""What the agent tells the control plane about the hypervisor it drives: who it is and its networks.

The identity is libvirt's capabilities host UUID (from SMBIOS, or `host_uuid` in libvirtd.conf), the same
for every connection to that libvirtd whatever URI reaches it; the control plane uses it to refuse a second
host row (a second agent) on one hypervisor. libvirt's test driver has none, and needs none: every
connection to it is a hypervisor of its own, in memory.
"""

from __future__ import annotations

import libvirt
from lxml import etree


def libvirt_host_id(conn: libvirt.virConnect) -> str | None:
    caps = etree.fromstring(conn.getCapabilities().encode())
    return (caps.findtext("host/uuid") or "").strip() or None


def active_networks(conn: libvirt.virConnect) -> list[str]:
    """Names of the libvirt networks that are up: where pools can put their addresses."""
    return sorted(net.name() for net in conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE))
