"""Servers built on images on real libvirt (issue 9): the cached base, qcow2 overlays with an explicit
backing format, the NoCloud seed, guest hardware, online disk growth, reboot orders, and a delete that
wipes the server's volumes but never the shared base."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest
from lxml import etree

from agents.deletion import DeletionSequence
from agents.domain_xml import SEED_TARGET_DEV
from agents.driver import DriverError, LibvirtDriver
from agents.journal import DeletionJournal
from agents.seed import read_seed_iso, seed_label
from agents.storage import ensure_dir_pool, qcow2_volume_xml
from controlplane.protocol import (
    DesiredImage,
    DesiredServer,
    DesiredState,
    DiskFormat,
    FirstBoot,
    RebootOrder,
)
from tests.agents.driver.conftest import RUN, ServerFactory
from tests.agents.driver.image_support import LoopbackImageSource, desired_image, image_pool
from tests.agents.reconcile.sources import MemorySource
from tests.utils.images import qcow2_image, raw_image, serve_files, ssh_key

GIB = 1024**3
MIB = 1024**2


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LoopbackImageSource, Path]]:
    root = tmp_path / "served"
    root.mkdir()
    with serve_files(root) as (url, _files):
        yield LoopbackImageSource(url), root


@pytest.fixture
def image_driver(
    qemu_conn: libvirt.virConnect,
    pool_names: tuple[str, str],
    served: tuple[LoopbackImageSource, Path],
) -> Iterator[Callable[..., LibvirtDriver]]:
    tag = secrets.token_hex(2)
    with image_pool(f"dctest-{RUN}-{tag}-images", f"/var/tmp/dctest-{RUN}-{tag}-images") as (
        name,
        path,
    ):

        def make(**options: object) -> LibvirtDriver:
            return LibvirtDriver(
                qemu_conn,
                pool_name=pool_names[0],
                pool_path=pool_names[1],
                stop_timeout_s=1.0,
                image_source=served[0],
                image_pool_name=name,
                image_pool_path=path,
                **options,  # type: ignore[arg-type]
            )

        yield make


@pytest.fixture
def raw_base(served: tuple[LoopbackImageSource, Path]) -> DesiredImage:
    image_id = f"dctest{secrets.token_hex(4)}"
    path = raw_image(served[1] / image_id, size_mib=64)
    return desired_image(path, image_id, DiskFormat.RAW, 64 * MIB)


def _on_image(new_server: ServerFactory, image: DesiredImage, **fields: object) -> DesiredServer:
    boot = FirstBoot(hostname="web-1", ssh_authorized_keys=[ssh_key()])
    return new_server(image=image, first_boot=boot, **fields)


def _qemu_img_info(path: str) -> dict[str, object]:
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", "-f", "qcow2", path], check=True, capture_output=True
    ).stdout
    parsed: dict[str, object] = json.loads(out)
    return parsed


def _vol(driver: LibvirtDriver, server: DesiredServer, suffix: str) -> libvirt.virStorageVol:
    return driver.ensure_pool().storageVolLookupByName(f"dcloud-{server.id}-{suffix}")


def _domain_xml(conn: libvirt.virConnect, server: DesiredServer) -> etree._Element:
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE
    return etree.fromstring(conn.lookupByName(f"dcloud-{server.id}").XMLDesc(flags).encode())


def test_overlay_names_the_cached_base_and_its_format_and_is_sized_to_the_disk(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver()
    server = _on_image(new_server, raw_base, disk_gib=2)
    driver.ensure_defined(server)
    info = _qemu_img_info(_vol(driver, server, "disk0").path())
    base = driver.images.cached(raw_base)
    assert base is not None
    assert info["backing-filename"] == base.path()
    assert info["backing-filename-format"] == "raw"
    assert info["virtual-size"] == 2 * GIB
    disk = _domain_xml(driver.conn, server).find("devices/disk[@device='disk']")
    assert disk.find("driver").get("type") == "qcow2"


def test_a_second_server_reuses_the_cached_base(
    image_driver: Callable[..., LibvirtDriver],
    new_server: ServerFactory,
    raw_base: DesiredImage,
    served: tuple[LoopbackImageSource, Path],
) -> None:
    driver = image_driver()
    driver.ensure_defined(_on_image(new_server, raw_base))
    driver.ensure_defined(_on_image(new_server, raw_base))
    assert served[0].fetched == [raw_base.id]


def test_copy_mode_gives_a_standalone_qcow2(
    image_driver: Callable[..., LibvirtDriver],
    new_server: ServerFactory,
    raw_base: DesiredImage,
    tmp_path: Path,
) -> None:
    driver = image_driver(disk_mode="copy")
    server = _on_image(new_server, raw_base)
    driver.ensure_defined(server)
    info = _qemu_img_info(_vol(driver, server, "disk0").path())
    assert "backing-filename" not in info and info["virtual-size"] == GIB
    # The image's content made it into the copy.
    out = tmp_path / "copy.raw"
    subprocess.run(
        [
            "qemu-img",
            "convert",
            "-U",
            "-f",
            "qcow2",
            "-O",
            "raw",
            _vol(driver, server, "disk0").path(),
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes()[:17] == b"dcloud-test-image"


def test_seed_is_a_cidata_cdrom_with_the_servers_documents(
    image_driver: Callable[..., LibvirtDriver],
    new_server: ServerFactory,
    raw_base: DesiredImage,
    isolated_network: object,
) -> None:
    driver = image_driver()
    attachment = isolated_network.attachment()  # type: ignore[attr-defined]
    attachment = attachment.model_copy(update={"prefix": 24, "gateway": "192.0.2.1", "dns": ["192.0.2.53"]})
    server = _on_image(new_server, raw_base, networks=[attachment])
    driver.ensure_defined(server)
    seed = Path(_vol(driver, server, "seed").path()).read_bytes()
    assert seed_label(seed) == "cidata"
    files = read_seed_iso(seed)
    assert json.loads(files["meta-data"]) == {"instance-id": server.id, "local-hostname": "web-1"}
    assert files["user-data"].startswith("#cloud-config\n")
    assert json.loads(files["user-data"].split("\n", 1)[1])["ssh_authorized_keys"] == [ssh_key()]
    eth = json.loads(files["network-config"])["ethernets"]["eth0"]
    assert eth["match"]["macaddress"] == attachment.mac.lower()
    assert eth["addresses"] == [f"{attachment.ip}/24"] and eth["gateway4"] == "192.0.2.1"
    seed = _domain_xml(driver.conn, server).find(f"devices/disk/target[@dev='{SEED_TARGET_DEV}']/..")
    assert seed.find("target").get("bus") == "virtio" and seed.find("readonly") is not None


def test_seed_is_rebuilt_when_the_address_changes(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    from controlplane.protocol import NetworkAttachment

    driver = image_driver()
    first = NetworkAttachment(network="dctest-none", mac="52:54:00:00:00:01", ip="192.0.2.10", prefix=24)
    server = _on_image(new_server, raw_base, networks=[first])
    driver.ensure_defined(server)
    moved = server.model_copy(update={"networks": [first.model_copy(update={"ip": "192.0.2.11"})]})
    driver.ensure_defined(moved)
    files = read_seed_iso(Path(_vol(driver, server, "seed").path()).read_bytes())
    assert json.loads(files["network-config"])["ethernets"]["eth0"]["addresses"] == ["192.0.2.11/24"]


def test_guest_hardware_boots_q35_with_virtio_rng_agent_channel_under_tcg(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver()
    server = _on_image(new_server, raw_base, domain_type="qemu")
    driver.ensure_defined(server)
    driver.start(server.id)
    root = _domain_xml(driver.conn, server)
    assert root.get("type") == "qemu"
    assert "q35" in root.find("os/type").get("machine")
    assert root.find("devices/rng").get("model") == "virtio"
    assert root.find("devices/channel/target").get("name") == "org.qemu.guest_agent.0"
    assert driver.observe(server.id) == "running"


def test_kvm_guest_gets_the_configured_cpu_mode(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver(cpu_mode="host-model", domain_type="kvm")
    driver.cpu_mode = "host-model"  # as on a host with VT-x/AMD-V, whatever this one has
    server = _on_image(new_server, raw_base)
    driver.ensure_defined(server)
    assert _domain_xml(driver.conn, server).find("cpu").get("mode") == "host-model"


def test_without_hardware_virtualisation_host_model_falls_back_to_qemus_cpu(tmp_path: Path) -> None:
    from agents.driver import hardware_virtualisation, usable_cpu_mode

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 hypervisor\n")
    assert hardware_virtualisation(str(cpuinfo)) is False
    assert usable_cpu_mode("host-model", hardware=False) is None
    assert usable_cpu_mode("host-model", hardware=True) == "host-model"
    cpuinfo.write_text("flags\t\t: fpu svm sse2\n")
    assert hardware_virtualisation(str(cpuinfo)) is True


def test_disk_grows_online_and_the_observed_size_follows(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver()
    server = _on_image(new_server, raw_base, domain_type="qemu")
    driver.ensure_defined(server)
    driver.start(server.id)
    bigger = server.model_copy(update={"disk_gib": 3, "vcpus": 2, "generation": server.generation + 1})
    driver.ensure_defined(bigger)
    size = driver.observe_size(server.id)
    assert size is not None and size.disk_bytes == 3 * GIB
    assert size.vcpus == 1  # CPU changes wait for the next boot
    assert _domain_xml(driver.conn, server).findtext("vcpu") == "2"
    assert driver.observe(server.id) == "running"


def test_more_vcpus_reach_a_running_guest_within_its_headroom(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver(max_vcpus=4)
    server = _on_image(new_server, raw_base, domain_type="qemu")
    driver.ensure_defined(server)
    vcpu = _domain_xml(driver.conn, server).find("vcpu")
    assert vcpu is not None and (vcpu.text, vcpu.get("current")) == ("4", "1")
    driver.start(server.id)
    driver.ensure_defined(server.model_copy(update={"vcpus": 3, "generation": server.generation + 1}))
    size = driver.observe_size(server.id)
    assert size is not None and size.vcpus == 3  # hot-plugged: no reboot needed
    assert _domain_xml(driver.conn, server).find("vcpu").get("current") == "3"  # type: ignore[union-attr]


def test_vcpus_beyond_the_headroom_or_fewer_wait_for_the_next_boot(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver(max_vcpus=2)
    server = _on_image(new_server, raw_base, domain_type="qemu", vcpus=2)
    driver.ensure_defined(server)
    driver.start(server.id)
    bigger = server.model_copy(update={"vcpus": 3, "generation": server.generation + 1})
    driver.ensure_defined(bigger)
    assert driver.observe_size(server.id).vcpus == 2  # type: ignore[union-attr]
    assert _domain_xml(driver.conn, server).findtext("vcpu") == "3"  # the config has it for the next boot
    smaller = server.model_copy(update={"vcpus": 1, "generation": server.generation + 2})
    driver.ensure_defined(smaller)
    assert driver.observe_size(server.id).vcpus == 2  # type: ignore[union-attr]
    driver.stop(server.id)
    driver.start(server.id)
    assert driver.observe_size(server.id).vcpus == 1  # type: ignore[union-attr]


def test_a_reboot_order_is_carried_out_once(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver()
    server = _on_image(new_server, raw_base, domain_type="qemu")
    driver.ensure_defined(server)
    driver.start(server.id)
    ordered = server.model_copy(update={"reboot": RebootOrder(seq=1, hard=True), "generation": 2})
    driver.ensure_defined(ordered)
    assert driver.ensure_rebooted(ordered) is True
    assert driver.ensure_rebooted(ordered) is False
    driver.ensure_defined(ordered.model_copy(update={"generation": 3}))  # a redefinition keeps the mark
    assert driver.ensure_rebooted(ordered.model_copy(update={"generation": 3})) is False
    assert driver.observe(server.id) == "running"


def test_a_new_domain_does_not_replay_old_reboot_orders(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver()
    server = _on_image(new_server, raw_base, reboot=RebootOrder(seq=4))
    driver.ensure_defined(server)
    assert driver.ensure_rebooted(server) is False


def test_delete_wipes_overlay_and_seed_but_never_the_shared_base(
    image_driver: Callable[..., LibvirtDriver],
    new_server: ServerFactory,
    raw_base: DesiredImage,
    tmp_path: Path,
) -> None:
    driver = image_driver()
    first, second = _on_image(new_server, raw_base), _on_image(new_server, raw_base)
    for server in (first, second):
        driver.ensure_defined(server)
    base = driver.images.cached(raw_base)
    assert base is not None
    base_bytes = Path(base.path()).read_bytes()
    gone = first.model_copy(update={"desired_state": DesiredState.DELETED})
    source = MemorySource([gone])
    entry = DeletionSequence(driver, source, DeletionJournal(tmp_path / "journal")).run(gone)
    report = entry.to_report()
    assert sorted(v.name for v in report.volumes) == [f"dcloud-{first.id}-disk0", f"dcloud-{first.id}-seed"]
    assert all(v.bytes_overwritten > 0 for v in report.volumes)
    assert [(b.image_id, b.customer_data, b.other_users) for b in report.shared_bases] == [
        (raw_base.id, False, 1)
    ]
    assert driver.server_volumes(first.id) == []
    assert Path(base.path()).read_bytes() == base_bytes  # never wiped
    assert driver.images.prune_unused(driver.ensure_pool(), keep=set()) == []  # still used by `second`


def test_an_unused_base_can_be_pruned(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver()
    server = _on_image(new_server, raw_base)
    driver.ensure_defined(server)
    for vol in driver.server_volumes(server.id):
        driver.destroy_and_undefine(server.id)
        driver.delete_volume(vol)
    assert driver.images.prune_unused(driver.ensure_pool(), keep={raw_base.id}) == []
    assert driver.images.prune_unused(driver.ensure_pool(), keep=set()) == [f"{raw_base.id}.raw"]


def test_the_reconcile_pass_prunes_a_base_only_after_it_was_unused_for_the_minimum_age(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver(image_min_age_s=3600.0, image_prune_interval_s=0.0)
    server = _on_image(new_server, raw_base)
    driver.ensure_defined(server)
    base = driver.images.cached(raw_base)
    assert base is not None
    assert driver.prune_image_bases([server]) == []  # needed by a listed server
    driver.destroy_and_undefine(server.id)
    for vol in driver.server_volumes(server.id):
        driver.delete_volume(vol)
    assert driver.prune_image_bases([]) == []  # just used: younger than the minimum age
    two_hours_ago = time.time() - 7200
    os.utime(base.path(), (two_hours_ago, two_hours_ago))
    assert driver.prune_image_bases([]) == [f"{raw_base.id}.raw"]
    assert driver.images.cached(raw_base) is None


def test_a_base_an_overlay_in_another_pool_uses_is_never_pruned(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver(image_min_age_s=0.0, image_prune_interval_s=0.0)
    server = _on_image(new_server, raw_base)
    driver.ensure_defined(server)  # caches the base, overlay in the server pool
    base = driver.images.cached(raw_base)
    assert base is not None
    tag = secrets.token_hex(2)
    with image_pool(f"dctest-{RUN}-{tag}-other", f"/var/tmp/dctest-{RUN}-{tag}-other") as (name, path):
        other = ensure_dir_pool(driver.conn, name, path)
        overlay = other.createXML(qcow2_volume_xml("dctest-overlay.qcow2", GIB, base.path(), "raw"), 0)
        driver.destroy_and_undefine(server.id)
        for vol in driver.server_volumes(server.id):
            driver.delete_volume(vol)
        assert driver.prune_image_bases([]) == []  # QEMU may open it for the other pool's guest
        overlay.delete(0)
        assert driver.prune_image_bases([]) == [f"{raw_base.id}.raw"]


def test_pruning_waits_for_its_interval(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver(image_min_age_s=0.0, image_prune_interval_s=3600.0)
    assert driver.prune_image_bases([]) == []  # the first pass prunes (nothing cached yet)
    server = _on_image(new_server, raw_base)
    driver.ensure_defined(server)
    driver.destroy_and_undefine(server.id)
    for vol in driver.server_volumes(server.id):
        driver.delete_volume(vol)
    assert driver.prune_image_bases([]) == []  # within the interval: not looked at
    assert driver.images.cached(raw_base) is not None


def test_an_image_that_does_not_verify_leaves_nothing_on_the_host(
    image_driver: Callable[..., LibvirtDriver], new_server: ServerFactory, raw_base: DesiredImage
) -> None:
    driver = image_driver()
    lying = raw_base.model_copy(update={"sha256": "0" * 64})
    server = _on_image(new_server, lying)
    with pytest.raises(Exception, match="checksum mismatch"):
        driver.ensure_defined(server)
    assert driver.server_volumes(server.id) == []
    assert driver.images.cached(lying) is None
    assert list(Path(f"{driver.images.pool_path}.partial").glob("*")) == []
    with pytest.raises(DriverError):
        driver.start(server.id)


def test_a_qcow2_base_gets_an_overlay_naming_qcow2(
    image_driver: Callable[..., LibvirtDriver],
    new_server: ServerFactory,
    served: tuple[LoopbackImageSource, Path],
) -> None:
    image_id = f"dctest{secrets.token_hex(4)}"
    path = qcow2_image(served[1] / image_id, size_mib=32)
    image = desired_image(path, image_id, DiskFormat.QCOW2, 32 * MIB)
    driver = image_driver()
    server = _on_image(new_server, image)
    driver.ensure_defined(server)
    assert _qemu_img_info(_vol(driver, server, "disk0").path())["backing-filename-format"] == "qcow2"


def test_the_reconcile_loop_reboots_once_and_reports_the_observed_size(
    image_driver: Callable[..., LibvirtDriver],
    new_server: ServerFactory,
    raw_base: DesiredImage,
    tmp_path: Path,
) -> None:
    from agents.reconcile import Reconciler
    from agents.soft_reboot import SoftReboots

    # No OS on the disk ignores the soft request: with no wait, the next pass resets it.
    driver = image_driver(soft_reboots=SoftReboots(0.0))
    server = _on_image(new_server, raw_base, domain_type="qemu")
    source = MemorySource([server])
    reconciler = Reconciler(driver, source, DeletionJournal(tmp_path / "journal"))
    reconciler.run_once()
    source.servers[server.id] = server.model_copy(
        update={"reboot": RebootOrder(seq=1), "generation": server.generation + 1}
    )
    reconciler.run_once()
    assert "reboot" not in driver._config_metadata(driver.conn.lookupByName(f"dcloud-{server.id}"))
    reconciler.run_once()
    meta = driver._config_metadata(driver.conn.lookupByName(f"dcloud-{server.id}"))
    assert meta["reboot"] == "1"
    observed = source.reports[-1].servers[0]
    assert (observed.state, observed.vcpus, observed.memory_mib, observed.disk_bytes) == (
        "running",
        1,
        64,
        GIB,
    )
