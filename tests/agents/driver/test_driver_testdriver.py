"""The driver's logic on libvirt's in-process test:/// driver (no QEMU), and the state table."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import libvirt
import pytest

from agents.domain_states import map_state
from agents.driver import DriverError, LibvirtDriver, detect_domain_type
from controlplane.protocol import DesiredServer, NetworkAttachment


@pytest.fixture
def test_conn() -> Iterator[libvirt.virConnect]:
    # test:///default is a fresh in-memory hypervisor per connection: nothing to clean up on the host.
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


@pytest.fixture
def tdriver(test_conn: libvirt.virConnect) -> LibvirtDriver:
    return LibvirtDriver(test_conn, pool_name="dctest-pool", pool_path="/dctest-nonexistent/images")


def _server(**fields: object) -> DesiredServer:
    base: dict[str, object] = dict(
        id=f"dctest{secrets.token_hex(3)}",
        name="t",
        vcpus=1,
        memory_mib=64,
        disk_gib=1,
        desired_state="running",
        generation=1,
    )
    base.update(fields)
    return DesiredServer.model_validate(base)


def test_domain_type_is_test_on_the_test_driver(tdriver: LibvirtDriver) -> None:
    assert detect_domain_type(tdriver.conn) == "test" == tdriver.domain_type


def test_lifecycle_and_states_on_the_test_driver(tdriver: LibvirtDriver) -> None:
    server = _server()
    tdriver.ensure_defined(server)
    assert tdriver.observe(server.id) == "shutoff"
    tdriver.start(server.id)
    assert tdriver.observe(server.id) == "running"
    tdriver.suspend(server.id)
    tdriver.suspend(server.id)
    assert tdriver.observe(server.id) == "paused"
    tdriver.resume(server.id)
    tdriver.suspend_mode = "managedsave"
    tdriver.suspend(server.id)
    assert tdriver.observe(server.id) == "saved"
    tdriver.resume(server.id)
    assert tdriver.observe(server.id) == "running"
    tdriver.destroy_and_undefine(server.id)
    tdriver.destroy_and_undefine(server.id)
    assert tdriver.observe(server.id) == "pending"
    for vol in tdriver.server_volumes(server.id):
        tdriver.delete_volume(vol)
    assert tdriver.observe(server.id) == "deleted"


def test_suspending_a_server_that_is_off_pauses_it_on_the_test_driver(tdriver: LibvirtDriver) -> None:
    server = _server()
    tdriver.ensure_defined(server)
    tdriver.suspend(server.id)
    assert tdriver.observe(server.id) == "paused"
    tdriver.destroy_and_undefine(server.id)
    for vol in tdriver.server_volumes(server.id):
        tdriver.delete_volume(vol)


def test_many_servers_are_listed_with_their_states(tdriver: LibvirtDriver) -> None:
    servers = [_server() for _ in range(40)]
    for server in servers:
        tdriver.ensure_defined(server)
    for server in servers[::2]:
        tdriver.start(server.id)
    states = tdriver.managed_domains()
    assert {s.id: states[s.id] for s in servers} == {
        s.id: ("running" if i % 2 == 0 else "shutoff") for i, s in enumerate(servers)
    }
    # The driver's built-in "test" domain is not ours: an orphan.
    assert [o.domain_name for o in tdriver.orphans()] == ["test"]


def test_volumes_are_matched_by_exact_server_id(tdriver: LibvirtDriver) -> None:
    short, longer = _server(id="dctestab"), _server(id="dctestab-disk")
    tdriver.ensure_defined(short)
    tdriver.ensure_defined(longer)
    assert [v.name() for v in tdriver.server_volumes("dctestab")] == ["dcloud-dctestab-disk0"]


def test_network_binding_on_the_test_driver(tdriver: LibvirtDriver) -> None:
    att = NetworkAttachment(network="default", mac="52:54:00:00:00:42", ip="192.168.122.42")
    server = _server(networks=[att], block_outbound_smtp=True)
    tdriver.ensure_network_binding(server)
    tdriver.ensure_network_binding(server)
    assert tdriver.conn.networkLookupByName("default").XMLDesc(0).count("52:54:00:00:00:42") == 1
    tdriver.ensure_defined(server)  # no nwfilter driver here: defined anyway, nothing to filter
    tdriver.remove_network_binding(server)
    assert "52:54:00:00:00:42" not in tdriver.conn.networkLookupByName("default").XMLDesc(0)


def test_bad_suspend_mode_is_refused(test_conn: libvirt.virConnect) -> None:
    with pytest.raises(ValueError):
        LibvirtDriver(test_conn, suspend_mode="hibernate")  # type: ignore[arg-type]


def test_driver_errors_wrap_libvirt_errors(tdriver: LibvirtDriver) -> None:
    server = _server(memory_mib=0)  # libvirt refuses a domain with no memory
    with pytest.raises(DriverError) as failed:
        tdriver.ensure_defined(server)
    assert failed.value.code is not None and "ensure_defined" in str(failed.value)


@pytest.mark.parametrize(
    ("state", "reason", "saved", "expected"),
    [
        (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED, False, "running"),
        (libvirt.VIR_DOMAIN_BLOCKED, 0, False, "running"),
        (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_USER, False, "paused"),
        (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_IOERROR, False, "error"),
        (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_STARTING_UP, False, "pending"),
        (libvirt.VIR_DOMAIN_SHUTDOWN, 0, False, "running"),
        (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SAVED, True, "saved"),
        (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED, False, "shutoff"),
        (libvirt.VIR_DOMAIN_CRASHED, 0, False, "error"),
        (libvirt.VIR_DOMAIN_PMSUSPENDED, 0, False, "paused"),
        (libvirt.VIR_DOMAIN_NOSTATE, 0, False, "error"),
    ],
)
def test_state_table(state: int, reason: int, saved: bool, expected: str) -> None:
    assert map_state(state, reason, has_managed_save=saved)[0] == expected
