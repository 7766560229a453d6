"""Fixtures for the libvirt driver tests: a dctest-* pool, dctest-* networks and servers on real libvirtd.

Every server id starts with `dctest<run>` (domains `dcloud-dctest<run>...`), where <run> is random per
test session, so finalizers remove exactly what this run created and never another engineer's VMs.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Callable, Iterator

import libvirt
import pytest

from agents.driver import LibvirtDriver
from controlplane.protocol import DesiredServer
from tests.utils.libvirt_net import TestNetwork
from tests.utils.libvirt_net import isolated_network as isolated_network_of

RUN = secrets.token_hex(3)
QEMU_URI = "qemu:///system"
_ALL_UNDEFINE = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
)

ServerFactory = Callable[..., DesiredServer]


def remove_domain(conn: libvirt.virConnect, name: str) -> None:
    """Destroy and undefine one domain, whatever state it is in; missing is fine."""
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    with contextlib.suppress(libvirt.libvirtError):
        dom.destroy()
    with contextlib.suppress(libvirt.libvirtError):
        dom.undefineFlags(_ALL_UNDEFINE)


def remove_run_domains(conn: libvirt.virConnect) -> None:
    for dom in conn.listAllDomains(0):
        if dom.name().startswith((f"dcloud-dctest{RUN}", f"dctest{RUN}")):
            remove_domain(conn, dom.name())


def _cleanup_conn() -> libvirt.virConnect:
    """A fresh connection for session teardown: the session's own may have died with a libvirtd
    restart (tests/agents/reconcile/test_libvirtd_restart.py restarts the shared daemon)."""
    return libvirt.open(QEMU_URI)


@pytest.fixture(scope="session")
def qemu_conn() -> Iterator[libvirt.virConnect]:
    conn = libvirt.open(QEMU_URI)
    yield conn
    with contextlib.suppress(libvirt.libvirtError):
        conn.close()
    cleanup = _cleanup_conn()
    remove_run_domains(cleanup)
    cleanup.close()


@pytest.fixture(scope="session")
def pool_names(qemu_conn: libvirt.virConnect) -> Iterator[tuple[str, str]]:
    """(pool name, pool path) for this run; the pool and its directory are removed at the end."""
    name, path = f"dctest-{RUN}", f"/var/tmp/dctest-{RUN}"
    yield name, path
    conn = _cleanup_conn()
    remove_run_domains(conn)
    with contextlib.suppress(libvirt.libvirtError):
        pool = conn.storagePoolLookupByName(name)
        for vol in pool.listAllVolumes(0):
            with contextlib.suppress(libvirt.libvirtError):
                vol.delete(0)
        with contextlib.suppress(libvirt.libvirtError):
            pool.destroy()
        pool.undefine()
    conn.close()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def driver(make_driver: Callable[..., LibvirtDriver]) -> LibvirtDriver:
    # A guest with no OS ignores ACPI: keep the graceful-stop wait short.
    return make_driver(stop_timeout_s=1.0)


@pytest.fixture
def make_driver(qemu_conn: libvirt.virConnect, pool_names: tuple[str, str]) -> Callable[..., LibvirtDriver]:
    """Drivers on this run's pool with other options (suspend_mode, stop_timeout_s)."""

    def make(**options: object) -> LibvirtDriver:
        options.setdefault("stop_timeout_s", 1.0)
        return LibvirtDriver(qemu_conn, pool_name=pool_names[0], pool_path=pool_names[1], **options)  # type: ignore[arg-type]

    return make


def make_server_factory(conn: libvirt.virConnect, made: list[str]) -> ServerFactory:
    def make(**fields: object) -> DesiredServer:
        server_id = f"dctest{RUN}{secrets.token_hex(3)}"
        made.append(server_id)
        base: dict[str, object] = dict(
            id=server_id,
            name=f"test {server_id}",
            vcpus=1,
            memory_mib=64,
            disk_gib=1,
            desired_state="running",
            generation=1,
        )
        base.update(fields)
        return DesiredServer.model_validate(base)

    return make


@pytest.fixture
def new_server(qemu_conn: libvirt.virConnect, pool_names: tuple[str, str]) -> Iterator[ServerFactory]:
    """Factory of tiny test servers; their domains and volumes are removed even when the test fails."""
    made: list[str] = []
    yield make_server_factory(qemu_conn, made)
    for server_id in made:
        remove_domain(qemu_conn, f"dcloud-{server_id}")
    with contextlib.suppress(libvirt.libvirtError):
        pool = qemu_conn.storagePoolLookupByName(pool_names[0])
        for vol in pool.listAllVolumes(0):
            if any(vol.name().startswith(f"dcloud-{sid}-") for sid in made):
                vol.delete(0)


@pytest.fixture
def isolated_network(qemu_conn: libvirt.virConnect) -> Iterator[TestNetwork]:
    """A persistent, running, isolated (no <forward>) libvirt network with DHCP."""
    with isolated_network_of(qemu_conn, f"dctest-{RUN}") as network:
        yield network
