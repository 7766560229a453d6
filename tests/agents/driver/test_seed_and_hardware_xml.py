"""The NoCloud seed documents and the guest-hardware knobs of the domain XML, without a hypervisor."""

from __future__ import annotations

import json

from lxml import etree

from agents.domain_xml import SEED_TARGET_DEV, AgentMarks, GuestDisks, build_domain_xml, hardware_for
from agents.seed import build_seed_iso, read_seed_iso, seed_documents, seed_label
from controlplane.protocol import DesiredServer, DiskFormat, FirstBoot, NetworkAttachment

HASH = "$6$salt$" + "a" * 86


def _server(**kw: object) -> DesiredServer:
    fields: dict[str, object] = dict(
        id="srv1", name="web", vcpus=1, memory_mib=256, disk_gib=2, desired_state="running", generation=1
    )
    fields.update(kw)
    return DesiredServer.model_validate(fields)


def _booted(**kw: object) -> DesiredServer:
    boot = FirstBoot(
        hostname="web-1", ssh_authorized_keys=["ssh-ed25519 AAAA a'b\"c: {x}"], password_hash=HASH
    )
    return _server(first_boot=boot, **kw)


def test_seed_round_trips_and_is_labelled_cidata() -> None:
    documents = seed_documents(_booted())
    data = build_seed_iso(documents)
    assert seed_label(data) == "cidata"
    assert read_seed_iso(data) == {
        "meta-data": documents.meta_data,
        "user-data": documents.user_data,
        "network-config": documents.network_config,
    }


def test_user_data_carries_keys_verbatim_and_only_the_password_hash() -> None:
    user = json.loads(seed_documents(_booted()).user_data.removeprefix("#cloud-config\n"))
    assert user["ssh_authorized_keys"] == ["ssh-ed25519 AAAA a'b\"c: {x}"]
    assert user["chpasswd"]["users"] == [{"name": "root", "password": HASH, "type": "hash"}]
    assert user["hostname"] == "web-1"


def test_network_config_is_static_by_mac_with_gateway_and_dns() -> None:
    net = NetworkAttachment(
        network="n",
        mac="52:54:00:AB:CD:EF",
        ip="198.51.100.7",
        prefix=24,
        gateway="198.51.100.1",
        dns=["198.51.100.53"],
    )
    config = json.loads(seed_documents(_booted(networks=[net])).network_config)
    assert config == {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": "52:54:00:ab:cd:ef"},
                "set-name": "eth0",
                "addresses": ["198.51.100.7/24"],
                "gateway4": "198.51.100.1",
                "nameservers": {"addresses": ["198.51.100.53"]},
            }
        },
    }


def test_fingerprint_changes_with_the_address() -> None:
    net = NetworkAttachment(network="n", mac="52:54:00:00:00:01", ip="192.0.2.5", prefix=24)
    moved = net.model_copy(update={"ip": "192.0.2.6"})
    assert (
        seed_documents(_booted(networks=[net])).fingerprint()
        != seed_documents(_booted(networks=[moved])).fingerprint()
    )


def _xml(domain_type: str, **kw: object) -> etree._Element:
    disks = GuestDisks(path="/p/disk0", disk_format=DiskFormat.QCOW2, seed_path="/p/seed")
    xml = build_domain_xml(
        _booted(),
        domain_type=domain_type,
        disks=disks,
        hardware=hardware_for(domain_type, **kw),
        marks=AgentMarks(seed="abc", reboot=2),
    )
    return etree.fromstring(xml.encode())


def test_kvm_guest_is_q35_host_model_with_virtio_rng_and_agent_channel() -> None:
    root = _xml("kvm")
    assert root.find("os/type").get("machine") == "q35"
    assert root.find("cpu").get("mode") == "host-model"
    assert root.find("devices/rng").get("model") == "virtio"
    assert root.find("devices/channel/target").get("name") == "org.qemu.guest_agent.0"
    assert root.find("devices/disk[@device='disk']/driver").get("type") == "qcow2"
    seed = root.find(f"devices/disk/target[@dev='{SEED_TARGET_DEV}']/..")
    assert seed.find("source").get("file") == "/p/seed" and seed.find("target").get("bus") == "virtio"
    assert seed.find("readonly") is not None


def test_disk_and_nic_are_virtio_and_the_guest_has_a_serial_console() -> None:
    net = NetworkAttachment(network="n", mac="52:54:00:00:00:01", ip="192.0.2.5", prefix=24)
    disks = GuestDisks(path="/p/disk0", disk_format=DiskFormat.QCOW2, seed_path="/p/seed")
    root = etree.fromstring(
        build_domain_xml(
            _booted(networks=[net]), domain_type="kvm", disks=disks, hardware=hardware_for("kvm")
        )
    )
    assert root.find("devices/disk[@device='disk']/target").get("bus") == "virtio"
    (iface,) = root.findall("devices/interface")
    assert iface.find("model").get("type") == "virtio" and iface.find("mac").get("address") == net.mac
    assert root.find("devices/serial").get("type") == "pty"  # what the console WebSocket streams
    assert root.find("devices/console").get("type") == "pty"


def test_cpu_mode_is_configurable_and_tcg_keeps_qemus_cpu() -> None:
    assert _xml("kvm", cpu_mode="host-passthrough").find("cpu").get("mode") == "host-passthrough"
    assert _xml("kvm", cpu_mode=None).find("cpu") is None
    assert _xml("qemu").find("cpu") is None
    assert _xml("qemu").get("type") == "qemu"


def test_marks_are_kept_in_the_metadata() -> None:
    ns = "{https://dcloud.example/xmlns/server/1}"
    meta = _xml("kvm").find(f"metadata/{ns}server")
    assert meta.findtext(f"{ns}seed") == "abc" and meta.findtext(f"{ns}reboot") == "2"
