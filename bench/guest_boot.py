"""A real guest's first boot, through dcloud versus done directly, and an image's first use on a host.

Boot: from `POST /v1/servers` with an image (API + agent over HTTP, the e2e stack) to cloud-init's
"finished" line read through dcloud's console WebSocket, versus the same steps done directly (qemu-img
overlay + NoCloud seed + define + start, the same line read from libvirt's console stream). Both boot
the test image (scripts/build-test-image.sh) under TCG with 1 vCPU and 512 MiB, a hostname, an SSH key
and a static address on an isolated network; the image is already cached on the host for both. Target
<= 1.2x direct. Nova's published boot times are printed beside it for scale (they are KVM numbers).

First use: the agent fetching an image it lacks from the control plane (streamed over HTTP, sha256
verified, moved into its libvirt pool) versus a plain copy of the same file made durable (fsync, as the
fetch is). Target <= 1.5x.

`DCLOUD_BENCH_GUEST_ROUNDS` (default 1) boots each path that many times, alternating; medians are shown.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import libvirt

from agents.client import ControlPlaneClient
from agents.events import start_event_loop
from agents.image_cache import ImageCache
from bench.result import Result
from controlplane.config import Settings
from controlplane.protocol import DesiredImage
from tests.e2e.guest_server import (
    addressed_pool,
    create_guest_server,
    file_sha256,
    import_image,
    open_console,
)
from tests.e2e.stack import LiveStack, start_stack
from tests.utils.guest import (
    FINISHED_MARK,
    SeedConfig,
    booted_guest,
    guest_domain_xml,
    guest_image,
    make_overlay,
    ssh_public_key,
    write_seed,
)
from tests.utils.libvirt_net import TestNetwork, isolated_network

WORK_ROOT = Path("/var/lib/dcloud-test")
BOOT_TIMEOUT_S = 1200.0
POLL_S = 0.01
# Nova's published VM boot times (API request to ACTIVE/booted, KVM), the scale the issue asks for.
NOVA_BOOT_S = (8.6, 13.0)
COPY_CHUNK = 4 * 1024 * 1024


def direct_boot_seconds(conn: libvirt.virConnect, base: Path, net: TestNetwork) -> float:
    """Overlay + seed + define + start, until cloud-init says it finished; the wall time in seconds."""
    work = WORK_ROOT / f"dcbench-guest-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True, mode=0o755)
    try:
        attachment = net.attachment(-1)  # the subnet's last address: dcloud leases from the bottom
        started = time.perf_counter()
        seed = SeedConfig(
            instance_id=f"dcbench-{uuid.uuid4().hex[:8]}",
            hostname="dcbench-guest",
            ssh_keys=(ssh_public_key(),),
            mac=attachment.mac,
            address=f"{attachment.ip}/{net.subnet.prefixlen}",
            gateway=str(next(net.subnet.hosts())),
        )
        xml = guest_domain_xml(
            f"dcbench-guest-{uuid.uuid4().hex[:8]}",
            disk=make_overlay(base, work / "disk.qcow2", size_gib=2),
            seed=write_seed(work / "seed.iso", seed),
            network=net.name,
            mac=attachment.mac,
        )
        with booted_guest(conn, xml) as (_dom, console):
            console.wait_for(FINISHED_MARK, BOOT_TIMEOUT_S)
            return time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)


def dcloud_boot_seconds(stack: LiveStack, image_id: str, pool: str) -> float:
    """POST /v1/servers until the same line shows on dcloud's console WebSocket; the server is deleted."""
    started = time.perf_counter()
    sid = create_guest_server(
        stack, image_id=image_id, pool=pool, hostname="dcbench-guest", ssh_authorized_keys=[ssh_public_key()]
    )["id"]
    _until(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, 300)
    console = open_console(stack, sid)
    try:
        console.wait_for(FINISHED_MARK, BOOT_TIMEOUT_S)
        elapsed = time.perf_counter() - started
    finally:
        console.close()
    stack.api("DELETE", f"/v1/servers/{sid}")
    _until(lambda: stack.api("GET", f"/v1/servers/{sid}/deletion-record").status_code == 200, 300)
    return elapsed


def first_use_seconds(stack: LiveStack, image: DesiredImage) -> tuple[float, Path]:
    """The agent's own cache and client fetching the image it lacks; returns (seconds, the base)."""
    settings = stack.agent_settings
    client = ControlPlaneClient(settings.api_url, settings.token, settings.host_name or stack.host_name)
    cache = ImageCache(
        stack.conn, pool_name=settings.image_pool, pool_path=settings.image_pool_path, source=client
    )
    cache.pool()  # the pool exists before the clock starts, as on any host past its first image
    try:
        started = time.perf_counter()
        vol = cache.ensure_base(image)
        return time.perf_counter() - started, Path(vol.path())
    finally:
        client.close()


def plain_copy_seconds(source: Path, dest: Path) -> float:
    """Copy and fsync (the durability the cache gives its bases), same filesystem as the cache."""
    started = time.perf_counter()
    with source.open("rb") as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out, COPY_CHUNK)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - started
    dest.unlink()
    return elapsed


def run() -> list[Result]:
    start_event_loop()
    built = time.perf_counter()
    image = guest_image()
    build_s = time.perf_counter() - built
    rounds = max(1, int(os.environ.get("DCLOUD_BENCH_GUEST_ROUNDS", "1")))
    with tempfile.TemporaryDirectory(prefix="dcbench-guest-") as tmp:
        stack = start_stack(Path(tmp), poll_interval_s=Settings().agent_poll_interval_s)
        try:
            imported = import_image(stack, image, sha256=file_sha256(image), name="dcbench guest")
            desired = DesiredImage.model_validate(imported)
            stored = Path(stack.agent_settings.images_path()) / f"{desired.id}.{desired.disk_format}"
            copy_s = plain_copy_seconds(stored, Path(stack.agent_settings.image_pool_path + ".dcbench-copy"))
            fetch_s, base = first_use_seconds(stack, desired)
            direct, via = [], []
            with isolated_network(stack.conn, "dcbench-guest") as net:
                pool = addressed_pool(stack, net)
                for _ in range(rounds):
                    direct.append(direct_boot_seconds(stack.conn, base, net))
                    via.append(dcloud_boot_seconds(stack, desired.id, pool))
        finally:
            stack.stop()
    return _results(statistics.median(via), statistics.median(direct), fetch_s, copy_s, build_s, rounds)


def _results(
    via: float, direct: float, fetch_s: float, copy_s: float, build_s: float, rounds: int
) -> list[Result]:
    low, high = NOVA_BOOT_S
    return [
        Result(
            "guest: POST /v1/servers -> cloud-init done",
            via,
            "s",
            baseline=direct,
            baseline_name="overlay + seed + define + start, same marker",
            target=1.2,
            note=f"test image under TCG, 1 vCPU, 512 MiB; median of {rounds}",
        ),
        Result("  Nova's published boot time, for scale", low, "s", note=f"{low:g}-{high:g} s on KVM"),
        Result(
            "image: first use on a host (fetch+verify+cache)",
            fetch_s,
            "s",
            baseline=copy_s,
            baseline_name="plain copy of the same file + fsync",
            target=1.5,
        ),
        Result(
            "guest: test image ready (cached build)",
            build_s,
            "s",
            note="scripts/build-test-image.sh; a cache miss builds it (about 1-3 min here)",
        ),
    ]


def _until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not converge")
        time.sleep(POLL_S)
