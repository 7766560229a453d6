"""A real guest through dcloud's public API: the test image imported over `/v1/images` from a loopback
HTTP server, an address pool on an isolated libvirt network, a server built from them, and its serial
console through dcloud's WebSocket. Shared by the guest e2e test and the guest boot benchmark.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.e2e.stack import LiveStack, wait_for
from tests.utils.console_client import ConsoleSocket
from tests.utils.libvirt_net import TestNetwork

# The server's hardware: what tests/utils/guest.py's direct domain has, so the two boots compare.
GUEST_VCPUS = 1
GUEST_MEMORY_MIB = 512
GUEST_DISK_GIB = 2
IMPORT_TIMEOUT_S = 300.0


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """A loopback HTTP server streaming the files in `root` (the stdlib handler copies, never loads)."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="dctest-image-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def import_image(stack: LiveStack, image: Path, *, sha256: str, name: str = "dctest guest") -> dict[str, Any]:
    """POST /v1/images from a loopback URL, then waits until the image is active."""
    with serve_directory(image.parent) as base_url:
        body = {"name": name, "source_url": f"{base_url}/{image.name}", "sha256": sha256}
        response = stack.api("POST", "/v1/images", json=body)
        assert response.status_code in (201, 202), response.text
        image_id = response.json()["id"]
        found: dict[str, Any] = wait_for(
            lambda: (r := stack.api("GET", f"/v1/images/{image_id}").json())["state"] != "importing" and r,
            timeout=IMPORT_TIMEOUT_S,
            what="the image import",
        )
    assert found["state"] == "active", found
    return found


def addressed_pool(stack: LiveStack, net: TestNetwork, *, dns: tuple[str, ...] = ()) -> str:
    """An address pool over the isolated network's subnet, gateway its first address; returns its name."""
    name = f"{net.name}-pool"
    body = {
        "name": name,
        "cidr": str(net.subnet),
        "gateway": str(next(net.subnet.hosts())),
        "network_name": net.name,
        "host_names": [stack.host_name],
        "dns_servers": list(dns),
    }
    stack.wait_for_reported_network(net.name)
    response = stack.api("POST", "/v1/pools", json=body)
    assert response.status_code == 201, response.text
    return name


def create_guest_server(stack: LiveStack, *, image_id: str, pool: str, **first_boot: Any) -> dict[str, Any]:
    """POST /v1/servers from the image, as a TCG domain (this host's /dev/kvm is kvm_pvm, see issue 9)."""
    return stack.create_server(
        "dctest guest",
        vcpus=GUEST_VCPUS,
        memory_mib=GUEST_MEMORY_MIB,
        disk_gib=GUEST_DISK_GIB,
        image_id=image_id,
        pool=pool,
        domain_type="qemu",
        **first_boot,
    )


def open_console(stack: LiveStack, server_id: str) -> ConsoleSocket:
    """The server's serial console through dcloud: a single-use ticket, then the WebSocket it names."""
    response = stack.api("POST", f"/v1/servers/{server_id}/console-tickets")
    assert response.status_code == 201, response.text
    url = "ws://" + stack.base_url.removeprefix("http://") + response.json()["path"]
    return ConsoleSocket(url)
