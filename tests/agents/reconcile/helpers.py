"""Helpers for the reconcile tests: what libvirt itself says, waiting for it, cleanup of test-made objects."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import libvirt

_UNDEFINE_FLAGS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
)


def purge(conn: libvirt.virConnect, prefix: str) -> None:
    """Remove every domain and pool whose name contains `prefix` (test-made only), volumes included."""
    for dom in conn.listAllDomains(0):
        if prefix not in dom.name():
            continue
        with contextlib.suppress(libvirt.libvirtError):
            if dom.isActive():
                dom.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            if dom.isPersistent():
                try:
                    dom.undefineFlags(_UNDEFINE_FLAGS)
                except libvirt.libvirtError:
                    dom.undefine()
    for pool in conn.listAllStoragePools(0):
        if prefix not in pool.name():
            continue
        with contextlib.suppress(libvirt.libvirtError):
            if pool.isActive():
                pool.refresh(0)
                for vol in pool.listAllVolumes(0):
                    vol.delete(0)
                pool.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            if pool.isPersistent():
                pool.undefine()


def domain_state(conn: libvirt.virConnect, name: str) -> int | None:
    """libvirt's own view of a domain (VIR_DOMAIN_*), or None when there is no such domain."""
    try:
        return conn.lookupByName(name).state()[0]
    except libvirt.libvirtError:
        return None


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(0.05)
