"""The driver against real libvirtd + QEMU/KVM: each power operation, checked with libvirt's own view."""

from __future__ import annotations

import time

import libvirt
import pytest

from agents.driver import DomainNotFound, DriverError, LibvirtDriver

pytestmark = pytest.mark.libvirt


def _dom(driver: LibvirtDriver, server_id: str) -> libvirt.virDomain:
    return driver.conn.lookupByName(driver.domain_name(server_id))


def _state(driver: LibvirtDriver, server_id: str) -> int:
    return _dom(driver, server_id).state()[0]


def test_domain_type_is_kvm_where_dev_kvm_works(driver: LibvirtDriver) -> None:
    assert driver.domain_type == "kvm"


def test_create_defines_sparse_volume_and_domain_then_start_runs(driver, new_server) -> None:
    server = new_server()
    driver.ensure_defined(server)
    driver.ensure_defined(server)  # idempotent: nothing duplicated, no error
    [vol] = driver.server_volumes(server.id)
    _type, capacity, allocation = vol.info()
    assert vol.name() == f"dcloud-{server.id}-disk0"
    assert capacity == 1024**3 and allocation < 1024**2  # raw and sparse
    assert _dom(driver, server.id).XMLDesc(0).count(vol.path()) == 1
    assert driver.observe(server.id) == "shutoff"

    driver.start(server.id)
    assert _state(driver, server.id) == libvirt.VIR_DOMAIN_RUNNING
    dom_id = _dom(driver, server.id).ID()
    driver.start(server.id)  # no-op on a running domain
    assert _dom(driver, server.id).ID() == dom_id
    assert driver.observe(server.id) == "running"
    assert driver.managed_domains()[server.id] == "running"


def test_suspend_in_pause_mode_keeps_ram_and_resume_runs(driver, new_server) -> None:
    server = new_server()
    driver.ensure_defined(server)
    driver.start(server.id)
    driver.suspend(server.id)
    assert _state(driver, server.id) == libvirt.VIR_DOMAIN_PAUSED
    driver.suspend(server.id)  # no-op on paused
    assert driver.observe(server.id) == "paused"
    assert not _dom(driver, server.id).hasManagedSaveImage(0)
    driver.resume(server.id)
    driver.resume(server.id)
    assert _state(driver, server.id) == libvirt.VIR_DOMAIN_RUNNING


def test_suspend_in_managedsave_mode_frees_ram_and_resume_restores(make_driver, new_server) -> None:
    driver = make_driver(suspend_mode="managedsave")
    server = new_server()
    driver.ensure_defined(server)
    driver.start(server.id)
    driver.suspend(server.id)
    dom = _dom(driver, server.id)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF and dom.hasManagedSaveImage(0)
    assert driver.observe(server.id) == "saved"
    driver.suspend(server.id)  # no-op: already saved
    driver.resume(server.id)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert not dom.hasManagedSaveImage(0)  # restored, image consumed


def test_suspend_of_a_domain_that_never_ran_starts_it_paused_and_resume_boots_it(driver, new_server) -> None:
    server = new_server()
    driver.ensure_defined(server)
    driver.suspend(server.id)
    dom = _dom(driver, server.id)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    assert driver.observe(server.id) == "paused"
    driver.resume(server.id)
    assert _state(driver, server.id) == libvirt.VIR_DOMAIN_RUNNING


def test_managedsave_of_a_domain_that_never_ran_leaves_a_save_image(make_driver, new_server) -> None:
    driver = make_driver(suspend_mode="managedsave")
    server = new_server()
    driver.ensure_defined(server)
    driver.suspend(server.id)
    dom = _dom(driver, server.id)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF and dom.hasManagedSaveImage(0)
    assert driver.observe(server.id) == "saved"
    driver.resume(server.id)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_managedsave_of_a_paused_domain_resumes_running(make_driver, new_server) -> None:
    pause = make_driver()
    save = make_driver(suspend_mode="managedsave")
    server = new_server()
    pause.ensure_defined(server)
    pause.start(server.id)
    pause.suspend(server.id)
    save.suspend(server.id)  # the operator switched modes while it was paused
    assert save.observe(server.id) == "saved"
    save.resume(server.id)
    assert _state(save, server.id) == libvirt.VIR_DOMAIN_RUNNING


def test_stop_waits_for_acpi_then_forces_off(driver, new_server) -> None:
    server = new_server()
    driver.ensure_defined(server)
    driver.start(server.id)
    began = time.monotonic()
    driver.stop(server.id)  # no OS to honour ACPI: forced after stop_timeout_s
    elapsed = time.monotonic() - began
    assert _state(driver, server.id) == libvirt.VIR_DOMAIN_SHUTOFF
    assert driver.stop_timeout_s <= elapsed < driver.stop_timeout_s + 10
    driver.stop(server.id)  # no-op when off
    assert driver.observe(server.id) == "shutoff"


def test_stop_of_a_paused_domain_forces_off_at_once(make_driver, new_server) -> None:
    driver = make_driver(stop_timeout_s=30.0)
    server = new_server()
    driver.ensure_defined(server)
    driver.start(server.id)
    driver.suspend(server.id)
    began = time.monotonic()
    driver.stop(server.id)
    assert time.monotonic() - began < 10  # a paused guest cannot act on ACPI: no waiting for it
    assert _state(driver, server.id) == libvirt.VIR_DOMAIN_SHUTOFF


def test_stop_of_a_saved_domain_discards_the_image(make_driver, new_server) -> None:
    driver = make_driver(suspend_mode="managedsave")
    server = new_server()
    driver.ensure_defined(server)
    driver.start(server.id)
    driver.suspend(server.id)
    driver.stop(server.id)
    assert not _dom(driver, server.id).hasManagedSaveImage(0)
    assert driver.observe(server.id) == "shutoff"


def test_destroy_and_undefine_is_idempotent_and_volume_delete_too(driver, new_server) -> None:
    server = new_server()
    driver.ensure_defined(server)
    driver.start(server.id)
    driver.destroy_and_undefine(server.id)
    with pytest.raises(libvirt.libvirtError) as gone:
        _dom(driver, server.id)
    assert gone.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
    driver.destroy_and_undefine(server.id)
    assert driver.observe(server.id) == "pending"  # the volume still waits for its wipe
    [vol] = driver.server_volumes(server.id)
    driver.delete_volume(vol)
    driver.delete_volume(vol)
    assert driver.server_volumes(server.id) == []
    assert driver.observe(server.id) == "deleted"
    assert server.id not in driver.managed_domains()


def test_destroy_and_undefine_removes_a_managed_save_image(make_driver, new_server) -> None:
    driver = make_driver(suspend_mode="managedsave")
    server = new_server()
    driver.ensure_defined(server)
    driver.start(server.id)
    driver.suspend(server.id)
    driver.destroy_and_undefine(server.id)
    assert driver.domain_name(server.id) not in [d.name() for d in driver.conn.listAllDomains(0)]


def test_generation_change_redefines_with_same_uuid(driver, new_server) -> None:
    server = new_server()
    driver.ensure_defined(server)
    uuid = _dom(driver, server.id).UUIDString()
    driver.ensure_defined(server.model_copy(update={"generation": 2, "memory_mib": 96}))
    dom = _dom(driver, server.id)
    assert dom.UUIDString() == uuid
    assert dom.maxMemory() == 96 * 1024


def test_disk_grows_offline_and_while_running(driver, new_server) -> None:
    server = new_server()
    driver.ensure_defined(server)
    driver.ensure_defined(server.model_copy(update={"disk_gib": 2, "generation": 2}))
    [vol] = driver.server_volumes(server.id)
    assert vol.info()[1] == 2 * 1024**3
    driver.start(server.id)
    driver.ensure_defined(server.model_copy(update={"disk_gib": 3, "generation": 3}))
    assert _dom(driver, server.id).blockInfo("vda")[0] == 3 * 1024**3  # the guest sees it at once
    assert vol.info()[1] == 3 * 1024**3


def test_operations_on_unknown_server_raise_not_found(driver) -> None:
    with pytest.raises(DomainNotFound):
        driver.start("dctestmissing")
    driver.destroy_and_undefine("dctestmissing")  # nothing to delete is not an error
    assert driver.observe("dctestmissing") == "deleted"


def test_libvirt_failures_carry_libvirt_message(driver, new_server) -> None:
    from controlplane.protocol import NetworkAttachment

    missing = NetworkAttachment(network="dctest-no-such-net", mac="52:54:00:00:00:99", ip="192.0.2.99")
    server = new_server(networks=[missing])
    driver.ensure_defined(server)
    with pytest.raises(DriverError) as failed:
        driver.start(server.id)
    assert "dctest-no-such-net" in str(failed.value)
    assert failed.value.code == libvirt.VIR_ERR_NO_NETWORK
