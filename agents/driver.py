"""The host agent's libvirt driver (a `HostDriver`): one object around one `virConnect`, every operation
idempotent.

The reconcile loop calls these with the server it wants converged; calling an operation whose effect
already holds (start on running, suspend on paused, undefine of a missing domain) does nothing, so a
pass interrupted at any point is finished by the next one.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import libvirt
from lxml import etree

from agents import bandwidth, guest_ops, netbinding, nwfilters, storage, traffic_filters
from agents.domain_states import map_state
from agents.domain_xml import (
    GUEST_ARCH,
    METADATA_NS,
    AgentMarks,
    GuestDisks,
    build_domain_xml,
    check_server_id,
    domain_name_for,
    filter_name_for,
    hardware_for,
    parse_metadata,
    parse_server_id,
)
from agents.guest_disks import disk_volume_name, prepare_disks
from agents.host_driver import DiskMode, GuestSize, SuspendMode
from agents.image_cache import ImageCache
from agents.image_fetch import ImageSource
from agents.soft_reboot import SoftReboots
from controlplane.protocol import DesiredServer, ObservedState, OrphanReport, SharedBase

log = logging.getLogger(__name__)

_POLL_S = 0.2
_P = ParamSpec("_P")
_R = TypeVar("_R")

# Undefine flags from the most thorough down; older libvirt rejects the ones it does not know.
_UNDEFINE_FLAG_SETS = [
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE,
]
_UNSUPPORTED_FLAG_CODES = {
    libvirt.VIR_ERR_INVALID_ARG,
    libvirt.VIR_ERR_NO_SUPPORT,
    libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
}


def _silence_libvirt_stderr(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default, even the ones we expect and handle."""


libvirt.registerErrorHandler(_silence_libvirt_stderr, None)


class DriverError(Exception):
    """A libvirt operation failed; carries libvirt's own message and error code."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class DomainNotFound(DriverError):
    """The server has no libvirt domain on this host."""


class NotOurDomain(DriverError):
    """A domain is named like a dcloud server but carries no matching dcloud metadata."""


def _libvirt_op(
    fn: Callable[Concatenate[LibvirtDriver, _P], _R],
) -> Callable[Concatenate[LibvirtDriver, _P], _R]:
    """Turn libvirt errors of a driver operation into DriverError naming the operation."""

    @functools.wraps(fn)
    def wrapper(self: LibvirtDriver, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(self, *args, **kwargs)
        except libvirt.libvirtError as err:
            message = f"{fn.__name__}: {err.get_error_message()}"
            raise DriverError(message, code=err.get_error_code()) from err

    return wrapper


def detect_domain_type(conn: libvirt.virConnect) -> str:
    """The best domain type the hypervisor offers for our guests: kvm, else qemu (TCG), else test."""
    caps = etree.fromstring(conn.getCapabilities().encode())
    offered = {d.get("type") for d in caps.iterfind(f"guest/arch[@name='{GUEST_ARCH}']/domain")}
    if conn.getType() == "TEST":
        # libvirt's test driver emulates i686 guests only; its domain type is "test" whatever the arch.
        offered = {d.get("type") for d in caps.iterfind("guest/arch/domain")}
    for domain_type in ("kvm", "qemu", "test"):
        if domain_type in offered:
            return domain_type
    raise DriverError(f"libvirt at {conn.getURI()} offers no usable domain type for {GUEST_ARCH}")


def hardware_virtualisation(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU offers VT-x/AMD-V. Without it /dev/kvm is a software hypervisor (kvm_pvm), where
    QEMU aborts on the MSRs a host-model CPU asks for."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return True  # cannot tell: keep the configured mode
    return any(
        flag in ("vmx", "svm")
        for line in text.splitlines()
        if line.startswith("flags")
        for flag in line.split()
    )


def usable_cpu_mode(cpu_mode: str | None, *, hardware: bool) -> str | None:
    """The configured CPU mode, or QEMU's default CPU where host-model/passthrough cannot work."""
    if cpu_mode in ("host-model", "host-passthrough") and not hardware:
        log.warning("no VT-x/AMD-V on this host: KVM guests get QEMU's default CPU, not %s", cpu_mode)
        return None
    return cpu_mode


def volume_name(server_id: str, index: int = 0) -> str:
    return disk_volume_name(server_id, index)


class LibvirtDriver:
    def __init__(
        self,
        conn: libvirt.virConnect,
        *,
        pool_name: str = "dcloud",
        pool_path: str = "/var/lib/dcloud/images",
        suspend_mode: SuspendMode = "pause",
        stop_timeout_s: float = 60.0,
        domain_type: str | None = None,
        image_source: ImageSource | None = None,
        image_pool_name: str = "dcloud-images",
        image_pool_path: str = "/var/lib/dcloud/image-cache",
        disk_mode: DiskMode = "overlay",
        cpu_mode: str | None = "host-model",
        max_vcpus: int = 0,
        image_min_age_s: float = 86400.0,
        image_prune_interval_s: float = 3600.0,
        soft_reboots: SoftReboots | None = None,
    ) -> None:
        if suspend_mode not in ("pause", "managedsave"):
            raise ValueError(f"suspend_mode must be 'pause' or 'managedsave', not {suspend_mode!r}")
        self.conn = conn
        self.pool_name = pool_name
        self.pool_path = pool_path
        self.suspend_mode: SuspendMode = suspend_mode
        self.stop_timeout_s = stop_timeout_s
        self.domain_type = domain_type or detect_domain_type(conn)
        self.disk_mode: DiskMode = disk_mode
        self.cpu_mode = usable_cpu_mode(cpu_mode, hardware=hardware_virtualisation())
        self.images = ImageCache(
            conn, pool_name=image_pool_name, pool_path=image_pool_path, source=image_source
        )
        self._nwfilter_supported: bool | None = None
        self.max_vcpus = max_vcpus
        self.image_min_age_s = image_min_age_s
        self.image_prune_interval_s = image_prune_interval_s
        self._next_image_prune = 0.0
        # Shared with the event subscription, which reports the reboots it waits for (agents/events.py).
        self.soft_reboots = soft_reboots if soft_reboots is not None else SoftReboots()

    # -- storage -------------------------------------------------------------------------------

    @_libvirt_op
    def ensure_pool(self) -> libvirt.virStoragePool:
        """The directory pool for server disks: defined, built, autostarted and active."""
        return storage.ensure_dir_pool(self.conn, self.pool_name, self.pool_path)

    @_libvirt_op
    def server_volumes(self, server_id: str) -> list[libvirt.virStorageVol]:
        pool = self._pool_or_none()
        if pool is None:
            return []
        # Every volume the server owns: its disks and its seed (all customer data, all wiped).
        own = re.compile(rf"^{re.escape(domain_name_for(server_id))}-(disk\d+|seed)$")
        return storage.volumes_named(pool, own)

    @_libvirt_op
    def shared_bases(self, server_id: str) -> list[SharedBase]:
        """The cached image bases under the server's overlays: listed in its deletion record, never wiped."""
        pool = self._pool_or_none()
        if pool is None:
            return []
        return guest_ops.shared_bases_of(self.images, pool, self.server_volumes(server_id))

    @_libvirt_op
    def prune_image_bases(self, servers: list[DesiredServer]) -> list[str]:
        """Cached bases no guest uses, no listed server needs and unused for `image_min_age_s`: deleted.

        At most once per `image_prune_interval_s`: it reads every volume's header on the host.
        """
        if time.monotonic() < self._next_image_prune:
            return []
        self._next_image_prune = time.monotonic() + self.image_prune_interval_s
        pool = self._pool_or_none()
        if pool is None:
            return []
        keep = {server.image.id for server in servers if server.image is not None}
        return self.images.prune_unused(pool, keep=keep, min_age_s=self.image_min_age_s)

    @_libvirt_op
    def delete_volume(self, vol: libvirt.virStorageVol) -> None:
        storage.delete_volume(vol)

    # -- definition ----------------------------------------------------------------------------

    def domain_name(self, server_id: str) -> str:
        return domain_name_for(server_id)

    @_libvirt_op
    def ensure_defined(self, server: DesiredServer) -> None:
        """Volume and domain exist for `server`; the domain is redefined when its generation changed."""
        check_server_id(server.id)
        dom = self._lookup(server.id)
        if dom is not None:
            self._require_ours(dom, server.id)
        config = self._config_metadata(dom) if dom is not None else {}
        prepared = prepare_disks(
            self.conn,
            self.ensure_pool(),
            self.images,
            server,
            dom,
            seed_mark_now=config.get("seed"),
            full_copy=self.disk_mode == "copy",
        )
        # A new domain has carried out every reboot ordered so far; an existing one keeps its mark.
        reboot_mark = guest_ops.reboot_mark(config) if dom is not None else guest_ops.ordered_reboot(server)
        marks = AgentMarks(seed=prepared.seed_mark, reboot=reboot_mark)
        filter_name = self._filter_for(server)
        if dom is None:
            self.conn.defineXML(self._domain_xml(server, prepared.disks, marks, filter_name, uuid=None))
            log.info("defined domain %s (generation %d)", self.domain_name(server.id), server.generation)
            return
        if _generation(config) != server.generation or config.get("seed") != prepared.seed_mark:
            # Keep the UUID: libvirt refuses a same-named definition with another identity.
            xml = self._domain_xml(server, prepared.disks, marks, filter_name, uuid=dom.UUIDString())
            self.conn.defineXML(xml)
            log.info("redefined domain %s (generation %d)", dom.name(), server.generation)
            guest_ops.grow_live_vcpus(dom, server.vcpus)
        if server.networks and self._has_nwfilter():
            nwfilters.sync_interface_filters(dom, server, filter_name)
        if server.networks:
            bandwidth.sync_bandwidth(dom, server)

    @_libvirt_op
    def ensure_network_binding(self, server: DesiredServer) -> None:
        for attachment in server.networks:
            netbinding.ensure_dhcp_host(self.conn, attachment)

    @_libvirt_op
    def remove_network_binding(self, server: DesiredServer) -> None:
        for attachment in server.networks:
            netbinding.remove_dhcp_host(self.conn, attachment)

    # -- observation ---------------------------------------------------------------------------

    @_libvirt_op
    def managed_domains(self) -> dict[str, ObservedState]:
        """server_id -> observed state for every domain that is a dcloud server."""
        result: dict[str, ObservedState] = {}
        for dom in self.conn.listAllDomains(0):
            try:
                server_id = self._server_id_of(dom)
                if server_id is not None:
                    result[server_id] = self._state_of(dom)[0]
            except libvirt.libvirtError as err:
                # Undefined between the listing and this call: it is simply gone.
                if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
        return result

    @_libvirt_op
    def orphans(self) -> list[OrphanReport]:
        """Domains dcloud did not create: reported to the control plane, never touched."""
        reports = []
        for dom in self.conn.listAllDomains(0):
            try:
                if self._server_id_of(dom) is None:
                    state = self._state_of(dom)[0]
                    reports.append(
                        OrphanReport(domain_name=dom.name(), domain_uuid=dom.UUIDString(), state=state)
                    )
            except libvirt.libvirtError as err:
                if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
        return reports

    def observe(self, server_id: str) -> ObservedState:
        return self.observe_detail(server_id)[0]

    @_libvirt_op
    def observe_detail(self, server_id: str) -> tuple[ObservedState, str | None]:
        """The observed state plus a human-readable reason where libvirt gives one."""
        dom = self._lookup(server_id)
        if dom is None:
            if self.server_volumes(server_id):
                # Half-created or half-deleted (wipe pending): not a server that exists, not gone yet.
                return (ObservedState.PENDING, "volumes exist without a domain")
            return (ObservedState.DELETED, None)
        if self._server_id_of(dom) != server_id:
            return (ObservedState.ERROR, f"domain {dom.name()} carries no dcloud metadata for this server")
        return self._state_of(dom)

    @_libvirt_op
    def observe_size(self, server_id: str) -> GuestSize | None:
        """vCPUs and memory the guest has now, and its system disk's capacity (None: no domain)."""
        dom = self._lookup(server_id)
        return guest_ops.guest_size(dom) if dom is not None else None

    # -- power ---------------------------------------------------------------------------------

    @_libvirt_op
    def ensure_rebooted(self, server: DesiredServer) -> bool:
        """Carry out the server's latest reboot order once (soft: agent/ACPI, then a reset if the guest
        ignores it for soft_reboots.timeout_s; hard: reset); True once done."""
        dom = self._require(server.id)
        return guest_ops.ensure_rebooted(dom, server, self._config_metadata(dom), self.soft_reboots)

    @_libvirt_op
    def void_reboot(self, server: DesiredServer) -> bool:
        """Suspended before its reboot order was carried out: the order is dropped (marked), not kept."""
        dom = self._require(server.id)
        return guest_ops.void_reboot(dom, server, self._config_metadata(dom), self.soft_reboots)

    def abandon_reboot_wait(self, server_id: str) -> None:
        """The server is no longer running (suspended, deleted): its soft reboot wait ends, no reset."""
        self.soft_reboots.forget(server_id)

    def prune_reboot_waits(self, servers: list[DesiredServer]) -> None:
        self.soft_reboots.prune(server.id for server in servers)

    @_libvirt_op
    def start(self, server_id: str) -> None:
        """Make the domain run: boot it (restoring a managed save image) or unpause it."""
        self._make_running(self._require(server_id))

    @_libvirt_op
    def resume(self, server_id: str) -> None:
        """Undo suspend in either mode: unpause, or start which restores the managed save image."""
        self._make_running(self._require(server_id))

    @_libvirt_op
    def suspend(self, server_id: str, mode: SuspendMode | None = None) -> None:
        """Pause (RAM kept) or managed-save (RAM freed) per `mode` (default: the driver's).

        A domain that is off (ordered to run but not booted yet, or the guest powered itself off) is
        started with its vCPUs paused before it has run an instruction: the server then is suspended
        like any other, and resume boots it. Left off, it would show `stopped` and never converge.
        """
        dom = self._require(server_id)
        if not dom.isActive():
            if dom.hasManagedSaveImage(0):
                return  # already suspended to disk
            _start_paused(dom)
        if (mode or self.suspend_mode) == "managedsave":
            # SAVE_RUNNING: the restore lands running even if the domain was paused when saved.
            dom.managedSave(libvirt.VIR_DOMAIN_SAVE_RUNNING)
        elif dom.state()[0] != libvirt.VIR_DOMAIN_PAUSED:
            dom.suspend()

    @_libvirt_op
    def stop(self, server_id: str) -> None:
        """ACPI shutdown, wait up to stop_timeout_s, then force off; a saved image is discarded."""
        dom = self._require(server_id)
        if not dom.isActive():
            # A stopped server must boot fresh, not resume from a suspend-to-disk image.
            if dom.hasManagedSaveImage(0):
                dom.managedSaveRemove(0)
            return
        state = dom.state()[0]
        if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED, libvirt.VIR_DOMAIN_SHUTDOWN):
            if state != libvirt.VIR_DOMAIN_SHUTDOWN:  # already shutting down: just wait for it
                self._request_shutdown(dom)
            if self._wait_until_off(dom, self.stop_timeout_s):
                return
            log.info(
                "domain %s ignored ACPI shutdown for %.0fs; forcing off", dom.name(), self.stop_timeout_s
            )
        # Paused / pmsuspended guests cannot act on ACPI; and the timeout has passed for running ones.
        self._force_off(dom)

    @_libvirt_op
    def power_off(self, server_id: str) -> None:
        """Force the domain off (the first step of a delete); a missing or stopped domain is fine."""
        dom = self._lookup(server_id)
        if dom is None:
            return
        self._require_ours(dom, server_id)
        if dom.isActive():
            self._force_off(dom)

    @_libvirt_op
    def destroy_and_undefine(self, server_id: str) -> None:
        """Power off and remove the definition (managed save, NVRAM, snapshot metadata included)."""
        dom = self._lookup(server_id)
        if dom is None:
            return
        self._require_ours(dom, server_id)
        if dom.isActive():
            self._force_off(dom)
        self._undefine(dom)
        log.info("undefined domain %s", self.domain_name(server_id))

    # -- internals -----------------------------------------------------------------------------

    def _lookup(self, server_id: str) -> libvirt.virDomain | None:
        try:
            return self.conn.lookupByName(domain_name_for(server_id))
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def _require(self, server_id: str) -> libvirt.virDomain:
        dom = self._lookup(server_id)
        if dom is None:
            raise DomainNotFound(f"no domain {domain_name_for(server_id)}", code=libvirt.VIR_ERR_NO_DOMAIN)
        self._require_ours(dom, server_id)
        return dom

    def _require_ours(self, dom: libvirt.virDomain, server_id: str) -> None:
        if self._server_id_of(dom) != server_id:
            raise NotOurDomain(f"domain {dom.name()} exists but carries no dcloud metadata; not touching it")

    def _server_id_of(self, dom: libvirt.virDomain) -> str | None:
        """The server id when both the name and the dcloud metadata say so, else None."""
        name_id = parse_server_id(dom.name())
        if name_id is None:
            return None
        meta = self._metadata(dom, 0)
        return name_id if meta is not None and meta.get("id") == name_id else None

    def _metadata(self, dom: libvirt.virDomain, flags: int) -> dict[str, str] | None:
        try:
            return parse_metadata(dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, flags))
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_METADATA:
                return None
            raise

    def _config_metadata(self, dom: libvirt.virDomain) -> dict[str, str]:
        return self._metadata(dom, libvirt.VIR_DOMAIN_AFFECT_CONFIG if dom.isPersistent() else 0) or {}

    def _state_of(self, dom: libvirt.virDomain) -> tuple[ObservedState, str | None]:
        state, reason = dom.state()
        saved = state == libvirt.VIR_DOMAIN_SHUTOFF and bool(dom.hasManagedSaveImage(0))
        return map_state(state, reason, has_managed_save=saved)

    def _pool_or_none(self) -> libvirt.virStoragePool | None:
        pool = storage.find_pool(self.conn, self.pool_name)
        return pool if pool is None or pool.isActive() else self.ensure_pool()

    def _filter_for(self, server: DesiredServer) -> str:
        if server.block_outbound_smtp and server.networks and self._has_nwfilter():
            nwfilters.ensure_smtp_block_filter(self.conn)
        if server.networks and self._has_nwfilter():
            traffic_filters.ensure_filters(self.conn, server)
        return filter_name_for(server)

    @_libvirt_op
    def prune_traffic_filters(self, servers: list[DesiredServer]) -> list[str]:
        """Remove firewall and quarantine filters none of `servers` uses (after a full pass)."""
        if not self._has_nwfilter():
            return []
        return traffic_filters.prune_unused_filters(self.conn, servers)

    def _has_nwfilter(self) -> bool:
        """Whether this connection filters traffic at all (libvirt's test:/// driver does not)."""
        if self._nwfilter_supported is None:
            self._nwfilter_supported = nwfilters.nwfilter_supported(self.conn)
        return self._nwfilter_supported

    def _domain_xml(
        self,
        server: DesiredServer,
        disks: GuestDisks,
        marks: AgentMarks,
        filter_name: str,
        *,
        uuid: str | None,
    ) -> str:
        domain_type = server.domain_type or self.domain_type
        return build_domain_xml(
            server,
            domain_type=domain_type,
            disks=disks,
            hardware=hardware_for(domain_type, cpu_mode=self.cpu_mode, max_vcpus=self.max_vcpus),
            marks=marks,
            smtp_filter=filter_name,
            uuid=uuid,
        )

    def _make_running(self, dom: libvirt.virDomain) -> None:
        state = dom.state()[0]
        if state in (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_CRASHED) and not dom.isActive():
            restoring = bool(dom.hasManagedSaveImage(0))
            dom.create()  # restores the managed save image when there is one
            if restoring and self._has_nwfilter():
                # The image carries the XML of save time; filter changes since then live in the config.
                nwfilters.sync_live_filters_to_config(dom)
            state = dom.state()[0]
        if state == libvirt.VIR_DOMAIN_PAUSED:
            dom.resume()
        elif state == libvirt.VIR_DOMAIN_PMSUSPENDED:
            dom.pMWakeup(0)

    def _request_shutdown(self, dom: libvirt.virDomain) -> None:
        try:
            dom.shutdown()
        except libvirt.libvirtError as err:
            # It went off on its own between our state check and the request.
            if err.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
                raise

    def _wait_until_off(self, dom: libvirt.virDomain, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while dom.isActive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def _force_off(self, dom: libvirt.virDomain) -> None:
        try:
            dom.destroy()
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
                raise

    def _undefine(self, dom: libvirt.virDomain) -> None:
        for flags in _UNDEFINE_FLAG_SETS:
            try:
                dom.undefineFlags(flags)
                return
            except libvirt.libvirtError as err:
                code = err.get_error_code()
                if code == libvirt.VIR_ERR_NO_DOMAIN:
                    return  # transient domain, gone with destroy
                if code not in _UNSUPPORTED_FLAG_CODES:
                    raise
                log.debug("undefine flags %#x unsupported: %s", flags, err.get_error_message())
        dom.undefine()


def _generation(meta: dict[str, str]) -> int | None:
    try:
        return int(meta["generation"]) if meta else None
    except (KeyError, ValueError):
        return None


def _start_paused(dom: libvirt.virDomain) -> None:
    """Start a domain with its vCPUs stopped; on libvirt's test driver, which lacks the flag, start and
    pause at once."""
    try:
        dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    except libvirt.libvirtError as err:
        # Only libvirt's test driver, which runs no guest: on a hypervisor, a guest under restriction
        # must not run even for an instant, so the error stands and the domain stays off.
        if err.get_error_code() not in _UNSUPPORTED_FLAG_CODES or dom.connect().getType() != "TEST":
            raise
        dom.create()
        dom.suspend()
