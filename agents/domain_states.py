"""libvirt (state, reason) -> dcloud's observed state, in one table so the mapping can be read at once."""

from __future__ import annotations

import libvirt

from controlplane.protocol import ObservedState

# Added in libvirt 9.1 (the C library, not the binding, decides which constants exist).
_PAUSED_API_ERROR = getattr(libvirt, "VIR_DOMAIN_PAUSED_API_ERROR", 14)
# Paused for reasons the guest cannot recover from by itself: an operator must look.
_PAUSED_FAULTS = {
    libvirt.VIR_DOMAIN_PAUSED_IOERROR: "paused on a disk I/O error",
    libvirt.VIR_DOMAIN_PAUSED_CRASHED: "guest crashed (paused)",
    libvirt.VIR_DOMAIN_PAUSED_POSTCOPY_FAILED: "post-copy migration failed",
    libvirt.VIR_DOMAIN_PAUSED_WATCHDOG: "paused by the watchdog (guest hung)",
    _PAUSED_API_ERROR: "paused after a libvirt API error",
}
# Paused only while libvirt itself works on the domain; it still is, for us, what it was.
_PAUSED_TRANSIENT: dict[int, tuple[ObservedState, str | None]] = {
    libvirt.VIR_DOMAIN_PAUSED_STARTING_UP: (ObservedState.PENDING, "starting up"),
    libvirt.VIR_DOMAIN_PAUSED_SAVE: (ObservedState.PAUSED, "being saved"),
    libvirt.VIR_DOMAIN_PAUSED_MIGRATION: (ObservedState.RUNNING, "paused for migration"),
    libvirt.VIR_DOMAIN_PAUSED_POSTCOPY: (ObservedState.RUNNING, "post-copy migration"),
    libvirt.VIR_DOMAIN_PAUSED_SHUTTING_DOWN: (ObservedState.RUNNING, "shutting down"),
    libvirt.VIR_DOMAIN_PAUSED_SNAPSHOT: (ObservedState.RUNNING, "paused for a snapshot"),
    libvirt.VIR_DOMAIN_PAUSED_DUMP: (ObservedState.RUNNING, "paused for a core dump"),
}


def map_state(state: int, reason: int, *, has_managed_save: bool) -> tuple[ObservedState, str | None]:
    """The observed state and, where it helps an operator, why."""
    if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED):
        # BLOCKED means the vCPUs wait on a resource (e.g. idle): the guest is up.
        return (ObservedState.RUNNING, None)
    if state == libvirt.VIR_DOMAIN_PAUSED:
        if reason in _PAUSED_FAULTS:
            return (ObservedState.ERROR, _PAUSED_FAULTS[reason])
        return _PAUSED_TRANSIENT.get(reason, (ObservedState.PAUSED, None))
    if state == libvirt.VIR_DOMAIN_SHUTDOWN:
        return (ObservedState.RUNNING, "shutting down")
    if state == libvirt.VIR_DOMAIN_SHUTOFF:
        if has_managed_save:
            return (ObservedState.SAVED, None)
        if reason == libvirt.VIR_DOMAIN_SHUTOFF_CRASHED:
            return (ObservedState.SHUTOFF, "guest crashed")
        return (ObservedState.SHUTOFF, None)
    if state == libvirt.VIR_DOMAIN_CRASHED:
        return (ObservedState.ERROR, "guest crashed")
    if state == libvirt.VIR_DOMAIN_PMSUSPENDED:
        return (ObservedState.PAUSED, "guest suspended itself (ACPI S3/S4)")
    return (ObservedState.ERROR, f"libvirt reports no state ({state}, reason {reason})")
