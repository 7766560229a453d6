"""`HostDriver`: what the reconcile loop and the delete sequence need from a hypervisor driver.

`agents.driver.LibvirtDriver` is the implementation; the reconciler is written against this protocol,
so what it may ask of a host is listed here, and a test double has to offer the same calls.
Every operation is idempotent: calling one whose effect already holds does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import libvirt

from controlplane.protocol import DesiredServer, ObservedState, OrphanReport, SharedBase

# pause keeps the guest's RAM; managedsave writes it to disk and frees it.
SuspendMode = Literal["pause", "managedsave"]
# overlay: a qcow2 overlay on the host's cached base; copy: a full qcow2 copy of the image per server.
DiskMode = Literal["overlay", "copy"]


@dataclass(frozen=True)
class GuestSize:
    """What a guest has now (the resize's "observed size"): vCPUs, memory, its system disk's capacity."""

    vcpus: int
    memory_mib: int
    disk_bytes: int | None


class StepDeferred(Exception):
    """A step cannot go on yet for a reason outside this server, and waiting for it would hold a worker.

    The message says what it waits for (e.g. an image another server is fetching). The reconciler
    reports the server as pending with that message, not in error, and the next pass tries again.
    """


class HostDriver(Protocol):
    @property
    def suspend_mode(self) -> SuspendMode: ...

    # -- observation
    def managed_domains(self) -> dict[str, ObservedState]: ...

    def orphans(self) -> list[OrphanReport]: ...

    def observe(self, server_id: str) -> ObservedState: ...

    def observe_detail(self, server_id: str) -> tuple[ObservedState, str | None]: ...

    def observe_size(self, server_id: str) -> GuestSize | None: ...

    # -- definition
    def domain_name(self, server_id: str) -> str: ...

    def ensure_defined(self, server: DesiredServer) -> None: ...

    def ensure_network_binding(self, server: DesiredServer) -> None: ...

    def remove_network_binding(self, server: DesiredServer) -> None: ...

    def prune_traffic_filters(self, servers: list[DesiredServer]) -> list[str]: ...

    def prune_image_bases(self, servers: list[DesiredServer]) -> list[str]: ...

    # -- power
    def start(self, server_id: str) -> None: ...

    def resume(self, server_id: str) -> None: ...

    def suspend(self, server_id: str, mode: SuspendMode | None = None) -> None: ...

    def stop(self, server_id: str) -> None: ...

    def ensure_rebooted(self, server: DesiredServer) -> bool: ...

    def void_reboot(self, server: DesiredServer) -> bool: ...

    def abandon_reboot_wait(self, server_id: str) -> None: ...

    def prune_reboot_waits(self, servers: list[DesiredServer]) -> None: ...

    # -- deletion
    def power_off(self, server_id: str) -> None: ...

    def destroy_and_undefine(self, server_id: str) -> None: ...

    def server_volumes(self, server_id: str) -> list[libvirt.virStorageVol]: ...

    def delete_volume(self, vol: libvirt.virStorageVol) -> None: ...

    def shared_bases(self, server_id: str) -> list[SharedBase]: ...
