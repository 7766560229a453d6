"""The real test guest: the image scripts/build-test-image.sh builds (cached), a NoCloud seed for it, and
a TCG domain that boots them, for tests and benchmarks that need a real Linux with the real cloud-init.

Everything is made directly (qemu-img, pycdlib, libvirt), without dcloud, so it serves both as the
baseline the benchmarks compare dcloud with and as the guest the console tests talk to.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import secrets
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libvirt
import pycdlib
from lxml import etree

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-test-image.sh"
# What cloud-init prints on the console when its last stage is done (cc_final_message).
CLOUD_INIT_FINISHED = b"Cloud-init v. "
FINISHED_MARK = b" finished at "


def guest_image(timeout_s: float = 1200.0) -> Path:
    """The cached test image, built first if this recipe was never built on this machine."""
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], check=True, capture_output=True, text=True, timeout=timeout_s
    )
    return Path(done.stdout.strip().splitlines()[-1])


def image_manifest(image: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((image.parent / "manifest.json").read_text())
    return loaded


@dataclass(frozen=True)
class SeedConfig:
    """What the seed tells cloud-init: who the server is and how its one interface is configured."""

    instance_id: str
    hostname: str
    ssh_keys: tuple[str, ...] = ()
    password_hash: str | None = None
    mac: str | None = None
    address: str | None = None  # "192.0.2.10/27"
    gateway: str | None = None
    dns: tuple[str, ...] = ()

    def meta_data(self) -> str:
        return json.dumps({"instance-id": self.instance_id, "local-hostname": self.hostname})

    def user_data(self) -> str:
        # JSON is YAML: no hand-written quoting of keys or hashes.
        config: dict[str, object] = {"hostname": self.hostname, "ssh_authorized_keys": list(self.ssh_keys)}
        if self.password_hash is not None:  # as dcloud's seed does: chpasswd -e for root
            config["chpasswd"] = {
                "expire": False,
                "users": [{"name": "root", "password": self.password_hash, "type": "hash"}],
            }
        return "#cloud-config\n" + json.dumps(config) + "\n"

    def network_config(self) -> str | None:
        if self.mac is None or self.address is None:
            return None
        eth: dict[str, object] = {"match": {"macaddress": self.mac}, "addresses": [self.address]}
        if self.gateway:
            eth["routes"] = [{"to": "0.0.0.0/0", "via": self.gateway}]
        if self.dns:
            eth["nameservers"] = {"addresses": list(self.dns)}
        return json.dumps({"version": 2, "ethernets": {"eth0": eth}})


def write_seed(path: Path, config: SeedConfig) -> Path:
    """A NoCloud seed: an ISO 9660 volume labelled `cidata` with meta-data, user-data, network-config."""
    files = {"meta-data": config.meta_data(), "user-data": config.user_data()}
    network = config.network_config()
    if network is not None:
        files["network-config"] = network
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for number, (name, text) in enumerate(sorted(files.items())):
        data = text.encode()
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            f"/FILE{number};1",
            rr_name=name,
            joliet_path=f"/{name}",
        )
    iso.write(str(path))
    iso.close()
    return path


def make_overlay(base: Path, path: Path, size_gib: int | None = None) -> Path:
    """A qcow2 overlay on `base` with an explicit backing format (never let qemu-img guess)."""
    cmd = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(path)]
    if size_gib is not None:
        cmd.append(f"{size_gib}G")
    subprocess.run(cmd, check=True)
    os.chmod(path, 0o644)
    return path


def guest_domain_xml(
    name: str, *, disk: Path, seed: Path | None, network: str | None = None, mac: str | None = None
) -> str:
    """A TCG domain (type='qemu': /dev/kvm here is kvm_pvm, far slower for a stock kernel)."""
    root = etree.Element("domain", type="qemu")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "memory", unit="MiB").text = "512"
    etree.SubElement(root, "vcpu").text = "1"
    os_el = etree.SubElement(root, "os")
    etree.SubElement(os_el, "type", arch="x86_64", machine="q35").text = "hvm"
    etree.SubElement(os_el, "boot", dev="hd")
    features = etree.SubElement(root, "features")
    etree.SubElement(features, "acpi")
    etree.SubElement(features, "apic")
    devices = etree.SubElement(root, "devices")
    vda = etree.SubElement(devices, "disk", type="file", device="disk")
    etree.SubElement(vda, "driver", name="qemu", type="qcow2")
    etree.SubElement(vda, "source", file=str(disk))
    etree.SubElement(vda, "target", dev="vda", bus="virtio")
    if seed is not None:
        # virtio, not a SATA CD-ROM: Debian's cloud kernel has no AHCI driver.
        cd = etree.SubElement(devices, "disk", type="file", device="disk")
        etree.SubElement(cd, "driver", name="qemu", type="raw")
        etree.SubElement(cd, "source", file=str(seed))
        etree.SubElement(cd, "target", dev="vdb", bus="virtio")
        etree.SubElement(cd, "readonly")
    if network is not None:
        iface = etree.SubElement(devices, "interface", type="network")
        if mac is not None:
            etree.SubElement(iface, "mac", address=mac)
        etree.SubElement(iface, "source", network=network)
        etree.SubElement(iface, "model", type="virtio")
    etree.SubElement(devices, "serial", type="pty")
    etree.SubElement(devices, "console", type="pty")
    channel = etree.SubElement(devices, "channel", type="unix")
    etree.SubElement(channel, "target", type="virtio", name="org.qemu.guest_agent.0")
    etree.SubElement(devices, "rng", model="virtio").append(_backend())
    return etree.tostring(root, encoding="unicode")


def _backend() -> etree._Element:
    backend = etree.Element("backend", model="random")
    backend.text = "/dev/urandom"
    return backend


@dataclass
class ConsoleCapture:
    """Everything a domain writes to its serial console, read through a libvirt console stream."""

    data: bytearray = field(default_factory=bytearray)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stream: libvirt.virStream | None = None

    def text(self) -> str:
        with self.lock:
            return self.data.decode(errors="replace")

    def raw(self) -> bytes:
        with self.lock:
            return bytes(self.data)

    def wait_for(self, needle: bytes, timeout_s: float, *, after: int = 0) -> int:
        """Waits until `needle` appears past offset `after`; returns the offset just past it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                found = self.data.find(needle, after)
            if found >= 0:
                return found + len(needle)
            time.sleep(0.1)
        tail = self.text()[-2000:]
        raise AssertionError(f"console never showed {needle!r} in {timeout_s}s; last output:\n{tail}")

    def send(self, data: bytes) -> None:
        assert self.stream is not None
        sent = 0
        while sent < len(data):
            n = self.stream.send(data[sent:])
            if n == -2:
                time.sleep(0.01)
                continue
            sent += n


def capture_console(dom: libvirt.virDomain) -> ConsoleCapture:
    """Opens the domain's console non-blocking on libvirt's event loop (which must be running)."""
    capture = ConsoleCapture()
    stream = dom.connect().newStream(libvirt.VIR_STREAM_NONBLOCK)
    dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)

    def readable(st: libvirt.virStream, events: int, _opaque: object) -> None:
        if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            close_console(st)
            return
        while True:
            try:
                chunk = st.recv(65536)
            except libvirt.libvirtError:
                close_console(st)
                return
            if chunk == -2:
                return
            if not chunk:  # end of stream: the domain is gone
                close_console(st)
                return
            assert isinstance(chunk, bytes)
            with capture.lock:
                capture.data.extend(chunk)

    events = (
        libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
    )
    stream.eventAddCallback(events, readable, None)
    capture.stream = stream
    return capture


def close_console(stream: libvirt.virStream) -> None:
    """Unregisters and aborts a console stream. A stream left registered after its domain went away
    stays readable at EOF forever: libvirt's event loop then spins a core on it, which slowed every
    guest booted later in the same process (the dcloud boot after the direct one in the benchmark)."""
    with contextlib.suppress(libvirt.libvirtError):
        stream.eventRemoveCallback()
    with contextlib.suppress(libvirt.libvirtError):
        stream.abort()


@contextlib.contextmanager
def booted_guest(conn: libvirt.virConnect, xml: str) -> Iterator[tuple[libvirt.virDomain, ConsoleCapture]]:
    """Defines and starts a domain from `xml` with its console captured from the first byte."""
    dom = conn.defineXML(xml)
    capture: ConsoleCapture | None = None
    try:
        dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        capture = capture_console(dom)
        dom.resume()
        yield dom, capture
    finally:
        if capture is not None and capture.stream is not None:
            close_console(capture.stream)
        _remove_domain(conn, dom.name())


def _remove_domain(conn: libvirt.virConnect, name: str) -> None:
    """Destroys and undefines `name`, over a new connection if libvirtd restarted under the test (a
    parallel run's restart test): otherwise the guest would outlive the run."""
    fresh = None if conn.isAlive() else libvirt.open("qemu:///system")
    try:
        with contextlib.suppress(libvirt.libvirtError):
            dom = (fresh or conn).lookupByName(name)
            with contextlib.suppress(libvirt.libvirtError):
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    finally:
        if fresh is not None:
            fresh.close()


def password_hash(password: str) -> str:
    """A SHA-512 crypt(3) hash, as dcloud takes it (never the plaintext)."""
    done = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", "dctestsalt", password],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def ssh_public_key(comment: str = "dctest@dcloud") -> str:
    """A well-formed ed25519 public key line (random key material; nobody holds its private half)."""
    kind = b"ssh-ed25519"
    blob = struct.pack(">I", len(kind)) + kind + struct.pack(">I", 32) + secrets.token_bytes(32)
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"
