"""Operations on a defined guest beyond power state (issue 9): reboot orders, observed size, shared bases."""

from __future__ import annotations

import logging
import os
from typing import assert_never

import libvirt
from lxml import etree

from agents import storage
from agents.domain_xml import METADATA_NS, METADATA_PREFIX, AgentMarks, metadata_element
from agents.host_driver import GuestSize
from agents.image_cache import ImageCache
from agents.soft_reboot import RebootWait, SoftReboots
from controlplane.protocol import DesiredServer, SharedBase

log = logging.getLogger(__name__)
_KIB_PER_MIB = 1024
_SYSTEM_DISK = "vda"


def ordered_reboot(server: DesiredServer) -> int:
    return server.reboot.seq if server.reboot is not None else 0


def reboot_mark(meta: dict[str, str]) -> int:
    try:
        return int(meta.get("reboot", "0"))
    except ValueError:
        return 0


def ensure_rebooted(
    dom: libvirt.virDomain, server: DesiredServer, config: dict[str, str], waits: SoftReboots
) -> bool:
    """Reboot once per ordered sequence number; the mark in the metadata makes a repeat a no-op.

    The mark is written once the reboot happened: at once for a reset, for a soft one when the guest is
    seen rebooting, or after `waits.timeout_s` by a reset (agents/soft_reboot.py). A crash in between
    reboots once more, never zero times. A stopped guest only gets the mark: it boots fresh when it
    next starts anyway.
    """
    order = server.reboot
    if order is None or order.seq <= reboot_mark(config):
        waits.forget(server.id)
        return False
    active = bool(dom.isActive())
    if active and order.hard:
        dom.reset(0)
    elif active and not _soft_reboot_settled(dom, server.id, order.seq, waits):
        return False
    waits.forget(server.id)
    _mark_rebooted(dom, server, config, order.seq, active)
    log.info("%s: reboot %d carried out (%s)", dom.name(), order.seq, "hard" if order.hard else "soft")
    return True


def void_reboot(
    dom: libvirt.virDomain, server: DesiredServer, config: dict[str, str], waits: SoftReboots
) -> bool:
    """A reboot ordered while the server ran, not yet carried out when it was suspended: the order ends
    there (marked, with no reboot), so a resume days later does not reboot, or reset, the guest."""
    waits.forget(server.id)
    order = server.reboot
    if order is None or order.seq <= reboot_mark(config):
        return False
    _mark_rebooted(dom, server, config, order.seq, bool(dom.isActive()))
    log.info(
        "%s: reboot %d dropped: the server was suspended before it was carried out", dom.name(), order.seq
    )
    return True


def _mark_rebooted(
    dom: libvirt.virDomain, server: DesiredServer, config: dict[str, str], seq: int, active: bool
) -> None:
    marks = AgentMarks(seed=config.get("seed"), reboot=seq)
    xml = _without_namespace(metadata_element(server, marks))
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (libvirt.VIR_DOMAIN_AFFECT_LIVE if active else 0)
    dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, xml, METADATA_PREFIX, METADATA_NS, flags)


def _soft_reboot_settled(dom: libvirt.virDomain, server_id: str, seq: int, waits: SoftReboots) -> bool:
    """Ask the guest to reboot, then on later passes: True once it did, or once it was reset for not."""
    match waits.state_of(server_id, seq):
        case RebootWait.NONE:
            waits.requested(server_id, seq)
            try:
                _soft_reboot(dom)
            except libvirt.libvirtError:
                waits.forget(server_id)
                raise
            return False
        case RebootWait.WAITING:
            return False
        case RebootWait.REBOOTED:
            return True
        case RebootWait.EXPIRED:
            log.warning(
                "server %s: the guest ignored the soft reboot for %gs; resetting it",
                server_id,
                waits.timeout_s,
            )
            dom.reset(0)
            waits.forced(server_id)
            return True
        case unknown:
            assert_never(unknown)


def _without_namespace(element: etree._Element) -> str:
    """setMetadata wants the element bare: libvirt puts it into METADATA_NS under METADATA_PREFIX itself."""
    bare = etree.Element(etree.QName(element).localname)
    for child in element:
        etree.SubElement(bare, etree.QName(child).localname).text = child.text
    return etree.tostring(bare, encoding="unicode")


def _soft_reboot(dom: libvirt.virDomain) -> None:
    """The guest agent when it answers (a clean reboot from inside), else the ACPI power button."""
    try:
        dom.reboot(libvirt.VIR_DOMAIN_REBOOT_GUEST_AGENT)
    except libvirt.libvirtError as err:
        log.debug("%s: guest agent reboot unavailable (%s); using ACPI", dom.name(), err.get_error_message())
        dom.reboot(libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN)


def grow_live_vcpus(dom: libvirt.virDomain, vcpus: int) -> bool:
    """Hot-plug a running guest up to `vcpus` when its definition left room; else the next boot does it.

    Only growth is live: taking vCPUs from a running guest needs its consent (an ACPI eject it may
    refuse), so a smaller plan takes effect at the next boot, as does memory (no hot-plug memory here).
    The guest agent, where it answers, brings the new vCPUs online inside the guest.
    """
    if not dom.isActive():
        return False
    try:
        live = dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE)
        room = dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
    except libvirt.libvirtError as err:
        log.debug("%s: live vCPU count unavailable (%s)", dom.name(), err.get_error_message())
        return False
    if vcpus <= live or vcpus > room:
        return False
    try:
        dom.setVcpusFlags(vcpus, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except libvirt.libvirtError as err:
        log.warning(
            "%s: vCPU hot-plug to %d refused (%s); at next boot", dom.name(), vcpus, err.get_error_message()
        )
        return False
    try:
        dom.setVcpusFlags(vcpus, libvirt.VIR_DOMAIN_VCPU_GUEST)
    except libvirt.libvirtError as err:
        log.debug("%s: guest agent did not online the new vCPUs (%s)", dom.name(), err.get_error_message())
    log.info("%s: %d vCPUs live (was %d)", dom.name(), vcpus, live)
    return True


def guest_size(dom: libvirt.virDomain) -> GuestSize:
    """What the guest has now: live vCPUs/memory when running, else the definition's; the disk's capacity."""
    _state, max_kib, _mem_kib, vcpus, _cpu_time = dom.info()
    try:
        disk: int | None = int(dom.blockInfo(_SYSTEM_DISK, 0)[0])
    except libvirt.libvirtError:
        disk = None
    return GuestSize(vcpus=int(vcpus), memory_mib=int(max_kib) // _KIB_PER_MIB, disk_bytes=disk)


def shared_bases_of(
    cache: ImageCache, server_pool: libvirt.virStoragePool, own: list[libvirt.virStorageVol]
) -> list[SharedBase]:
    """Each cached base one of `own` is an overlay on, with how many other overlays still use it."""
    in_use = cache.bases_in_use(server_pool)
    own_names = {v.name() for v in own}
    cached = {os.path.realpath(v.path()): v for v in cache.pool().listAllVolumes(0)}
    found: dict[str, SharedBase] = {}
    for vol in own:
        backing = storage.backing_path_of(vol)
        if backing is None:
            continue
        real = os.path.realpath(backing)
        base = cached.get(real)
        others = [name for name in in_use.get(real, []) if name not in own_names]
        found[real] = SharedBase(
            name=base.name() if base is not None else os.path.basename(real),
            path=real,
            image_id=(base.name() if base is not None else os.path.basename(real)).rpartition(".")[0],
            customer_data=False,
            other_users=len(others),
        )
    return list(found.values())
