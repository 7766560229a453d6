"""Build libvirt domain XML for a dcloud server, and recognise dcloud domains by their name/metadata.

Everything goes through lxml so a customer-chosen name can never change the structure of the domain
(`a'<b>&"` or `]]>` end up as text, nothing else).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from agents.bandwidth import build_bandwidth
from agents.domain_text import domain_title

# Re-exported: callers have always found the filter names here.
from agents.filter_names import CLEAN_TRAFFIC_FILTER as CLEAN_TRAFFIC_FILTER
from agents.filter_names import SMTP_BLOCK_FILTER as SMTP_BLOCK_FILTER
from agents.traffic_filters import traffic_filter_name
from controlplane.protocol import DesiredServer, DiskFormat, DomainType, NetworkAttachment

DOMAIN_PREFIX = "dcloud-"
METADATA_NS = "https://dcloud.example/xmlns/server/1"
METADATA_PREFIX = "dcloud"
# Hosts are x86_64. The XML names no arch or machine, so libvirt uses the host's and its default machine.
GUEST_ARCH = "x86_64"

# Server ids become parts of domain, volume and file names: keep them to a safe alphabet.
_SERVER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Characters XML 1.0 cannot carry at all (lxml refuses them); everything else round-trips.
_XML_FORBIDDEN_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# The guest agent's well-known virtio-serial port name (qemu-guest-agent listens on it in the guest).
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"
# The seed is a read-only virtio disk, not a SATA cdrom: Debian's cloud kernel (and the published
# genericcloud images) carry no AHCI driver, so a guest never sees a seed on q35's SATA controller.
# cloud-init's NoCloud finds the `cidata` ISO by its label on any block device.
SEED_TARGET_DEV = "vdb"


@dataclass(frozen=True)
class GuestHardware:
    """The knobs of the virtual machine itself; `hardware_for` picks them per domain type.

    `cpu_mode` is libvirt's `<cpu mode=...>` (host-model by default on KVM; None leaves QEMU's default
    CPU, which is what a TCG guest wants: host-model under TCG emulates every host feature slowly).
    """

    machine: str | None = "q35"
    cpu_mode: str | None = "host-model"
    rng: bool = True
    guest_agent: bool = True
    # vCPU sockets a running guest may grow into (hot-plug); 0: exactly the server's vCPUs, no headroom.
    max_vcpus: int = 0


# libvirt's test:/// driver knows none of q35, CPU modes, rng or channels: it gets the bare machine.
TEST_DRIVER_HARDWARE = GuestHardware(machine=None, cpu_mode=None, rng=False, guest_agent=False)


def hardware_for(
    domain_type: str, *, cpu_mode: str | None = "host-model", max_vcpus: int = 0
) -> GuestHardware:
    """The hardware of a `domain_type` guest; `cpu_mode` applies to KVM (TCG keeps QEMU's CPU).

    (The driver passes its own `cpu_mode`: None there means QEMU's default CPU on KVM too.)
    """
    if domain_type == DomainType.TEST:
        return TEST_DRIVER_HARDWARE
    if domain_type == DomainType.QEMU:
        return GuestHardware(cpu_mode=None, max_vcpus=max_vcpus)
    return GuestHardware(cpu_mode=cpu_mode, max_vcpus=max_vcpus)


@dataclass(frozen=True)
class GuestDisks:
    """The server's own disk (raw, or a qcow2 overlay / copy of an image) and its NoCloud seed cdrom."""

    path: str
    disk_format: DiskFormat = DiskFormat.RAW
    seed_path: str | None = None


@dataclass(frozen=True)
class AgentMarks:
    """What the agent keeps in the domain's metadata besides id/name/generation.

    `seed` fingerprints the seed's content (rebuilt when it changes); `reboot` is the last reboot order
    carried out, so a re-sent order never reboots twice and a lost agent state reboots nothing.
    """

    seed: str | None = None
    reboot: int = 0


class DomainXmlError(ValueError):
    """The server cannot be expressed as a libvirt domain (bad id, name XML cannot carry)."""


def domain_name_for(server_id: str) -> str:
    """The libvirt domain name of a server: `dcloud-<id>`."""
    check_server_id(server_id)
    return f"{DOMAIN_PREFIX}{server_id}"


def check_server_id(server_id: str) -> None:
    if not _SERVER_ID_RE.match(server_id):
        raise DomainXmlError(f"server id {server_id!r} is not usable in libvirt names")


def build_domain_xml(
    server: DesiredServer,
    *,
    domain_type: str,
    volume_path: str | None = None,
    disks: GuestDisks | None = None,
    hardware: GuestHardware | None = None,
    marks: AgentMarks | None = None,
    smtp_filter: str | None = None,
    uuid: str | None = None,
) -> str:
    """Domain XML for `server`; `uuid` keeps an existing domain's identity when it is redefined.

    `disks` (or just `volume_path`, a raw disk) says what the guest boots from; `hardware` defaults to
    `hardware_for(domain_type)`. `smtp_filter` names the nwfilter used instead of clean-traffic while
    `block_outbound_smtp` is set (default: dcloud's own `dcloud-clean-traffic-no-smtp`).
    """
    if _XML_FORBIDDEN_RE.search(server.name):
        raise DomainXmlError("server name contains control characters XML cannot represent")
    if disks is None:
        if volume_path is None:
            raise DomainXmlError("a domain needs a disk: give disks or volume_path")
        disks = GuestDisks(path=volume_path)
    hw = hardware or hardware_for(domain_type)
    root = etree.Element("domain", type=domain_type)
    _text(root, "name", domain_name_for(server.id))
    if uuid is not None:
        _text(root, "uuid", uuid)
    _text(root, "title", domain_title(server.name))
    root.append(_metadata(server, marks or AgentMarks()))
    _text(root, "memory", str(server.memory_mib), unit="MiB")
    _text(root, "currentMemory", str(server.memory_mib), unit="MiB")
    if hw.max_vcpus > server.vcpus:
        # The guest starts with its own vCPUs present and may be given more while it runs, up to the max.
        _text(root, "vcpu", str(hw.max_vcpus), placement="static", current=str(server.vcpus))
    else:
        _text(root, "vcpu", str(server.vcpus), placement="static")
    os_el = etree.SubElement(root, "os")
    _text(os_el, "type", "hvm", **({"machine": hw.machine} if hw.machine else {}))
    etree.SubElement(os_el, "boot", dev="hd")
    features = etree.SubElement(root, "features")
    etree.SubElement(features, "acpi")
    etree.SubElement(features, "apic")
    if hw.cpu_mode:
        etree.SubElement(root, "cpu", mode=hw.cpu_mode)
    etree.SubElement(root, "clock", offset="utc")
    _text(root, "on_poweroff", "destroy")
    _text(root, "on_reboot", "restart")
    _text(root, "on_crash", "destroy")
    root.append(_devices(server, disks, hw, filter_name_for(server, smtp_filter)))
    return etree.tostring(root, encoding="unicode")


def filter_name_for(server: DesiredServer, smtp_filter: str | None = None) -> str:
    """The nwfilter every interface of `server` should reference right now (agents/traffic_filters.py)."""
    if server.block_outbound_smtp and not server.quarantine and server.firewall is None:
        return smtp_filter or SMTP_BLOCK_FILTER
    return traffic_filter_name(server)


def build_filterref(filter_name: str, ip: str | None) -> etree._Element:
    """`<filterref filter=..><parameter name="IP" value=".."/></filterref>` for one interface."""
    ref = etree.Element("filterref", filter=filter_name)
    if ip is not None:
        etree.SubElement(ref, "parameter", name="IP", value=ip)
    return ref


def parse_server_id(domain_xml_or_name: str) -> str | None:
    """The dcloud server id of a domain, from its XML (name + metadata must agree) or its name alone."""
    text = domain_xml_or_name.strip()
    if not text.startswith("<"):
        return _id_from_name(text)
    try:
        root = etree.fromstring(text.encode())
    except etree.XMLSyntaxError:
        return None
    name_id = _id_from_name(root.findtext("name") or "")
    meta_id = root.findtext(f"metadata/{{{METADATA_NS}}}server/{{{METADATA_NS}}}id")
    # A domain that merely looks like ours by name is not ours: both must say the same id.
    if name_id is None or meta_id != name_id:
        return None
    return name_id


def parse_metadata(metadata_xml: str) -> dict[str, str]:
    """The fields of a `<dcloud:server>` element as returned by `virDomain.metadata()`."""
    root = etree.fromstring(metadata_xml.encode())
    return {etree.QName(child).localname: child.text or "" for child in root}


def _id_from_name(name: str) -> str | None:
    if not name.startswith(DOMAIN_PREFIX):
        return None
    server_id = name[len(DOMAIN_PREFIX) :]
    return server_id if _SERVER_ID_RE.match(server_id) else None


def metadata_element(server: DesiredServer, marks: AgentMarks) -> etree._Element:
    """The `<dcloud:server>` element; bare of its namespace it is what setMetadata gets for a new mark."""
    el = etree.Element(f"{{{METADATA_NS}}}server", nsmap={METADATA_PREFIX: METADATA_NS})
    _text(el, f"{{{METADATA_NS}}}id", server.id)
    _text(el, f"{{{METADATA_NS}}}name", server.name)
    _text(el, f"{{{METADATA_NS}}}generation", str(server.generation))
    if marks.seed is not None:
        _text(el, f"{{{METADATA_NS}}}seed", marks.seed)
    if marks.reboot:
        _text(el, f"{{{METADATA_NS}}}reboot", str(marks.reboot))
    return el


def _metadata(server: DesiredServer, marks: AgentMarks) -> etree._Element:
    metadata = etree.Element("metadata")
    metadata.append(metadata_element(server, marks))
    return metadata


def _devices(server: DesiredServer, disks: GuestDisks, hw: GuestHardware, filter_name: str) -> etree._Element:
    devices = etree.Element("devices")
    disk = etree.SubElement(devices, "disk", type="file", device="disk")
    # discard=unmap lets the guest punch holes, so freed blocks hold no data and wiping stays cheap.
    # The format is always explicit: QEMU must never probe a guest-writable disk's format.
    etree.SubElement(disk, "driver", name="qemu", type=str(disks.disk_format), discard="unmap")
    etree.SubElement(disk, "source", file=disks.path)
    etree.SubElement(disk, "target", dev="vda", bus="virtio")
    if disks.seed_path is not None:
        devices.append(_seed_disk(disks.seed_path))
    for attachment in server.networks:
        devices.append(_interface(attachment, filter_name, server.bandwidth_kbytes))
    etree.SubElement(devices, "serial", type="pty")
    etree.SubElement(devices, "console", type="pty")
    if hw.guest_agent:
        channel = etree.SubElement(devices, "channel", type="unix")
        etree.SubElement(channel, "target", type="virtio", name=GUEST_AGENT_CHANNEL)
    if hw.rng:
        rng = etree.SubElement(devices, "rng", model="virtio")
        _text(rng, "backend", "/dev/urandom", model="random")
    etree.SubElement(devices, "memballoon", model="virtio")
    return devices


def _seed_disk(path: str) -> etree._Element:
    seed = etree.Element("disk", type="file", device="disk")
    etree.SubElement(seed, "driver", name="qemu", type="raw")
    etree.SubElement(seed, "source", file=path)
    etree.SubElement(seed, "target", dev=SEED_TARGET_DEV, bus="virtio")
    etree.SubElement(seed, "readonly")
    return seed


def _interface(
    attachment: NetworkAttachment, filter_name: str, bandwidth_kbytes: int | None
) -> etree._Element:
    iface = etree.Element("interface", type="network")
    etree.SubElement(iface, "mac", address=attachment.mac.lower())
    etree.SubElement(iface, "source", network=attachment.network)
    etree.SubElement(iface, "model", type="virtio")
    if bandwidth_kbytes is not None:  # the cap of Art. 16(4)-17, kept in the persistent definition too
        iface.append(build_bandwidth(bandwidth_kbytes))
    iface.append(build_filterref(filter_name, attachment.ip))
    return iface


def _text(parent: etree._Element, tag: str, text: str, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, **attrs)
    el.text = text
    return el
