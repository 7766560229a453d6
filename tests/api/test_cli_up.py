"""`dcloud up` on this machine: registers the host, writes 0600 tokens, serves, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.libvirt


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def test_pool() -> Iterator[str]:
    """A storage pool name only this test uses; removed from libvirt afterwards even on failure."""
    import libvirt

    name = f"dctest-{uuid.uuid4().hex[:8]}"
    yield name
    conn = libvirt.open("qemu:///system")
    try:
        pool = conn.storagePoolLookupByName(name)
        if pool.isActive():
            pool.destroy()
        pool.undefine()
    except libvirt.libvirtError:
        pass
    finally:
        conn.close()


def _wait_for(url: str, headers: dict[str, str], deadline: float) -> httpx.Response:
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, headers=headers, timeout=2)
            if response.status_code == 200 and response.json() and response.json()[0]["health"] == "up":
                return response
        except (httpx.HTTPError, IndexError, KeyError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} never showed an up host")


def test_up_registers_the_host_and_stops_cleanly(tmp_path: Path, test_pool: str) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DCLOUD_DATABASE_URL": f"sqlite:///{tmp_path}/up.db",
        "DCLOUD_STATE_DIR": str(tmp_path / "var"),
        "DCLOUD_HOST_NAME": test_pool,
        "DCLOUD_STORAGE_POOL": test_pool,
        "DCLOUD_STORAGE_POOL_PATH": str(tmp_path / "images"),
        "DCLOUD_API_PORT": str(port),
        "DCLOUD_WHOIS_PORT": str(_free_port()),
        "DCLOUD_AGENT_METRICS_PORT": str(_free_port()),
        "DCLOUD_AGENT_POLL_INTERVAL_S": "1",
    }
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", "up"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        token_file = tmp_path / "var" / "admin.token"
        deadline = time.monotonic() + 60
        while not token_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "var" / f"agent-{test_pool}.token").stat().st_mode) == 0o600
        headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        hosts = _wait_for(f"http://127.0.0.1:{port}/v1/hosts", headers, deadline).json()
        assert [h["name"] for h in hosts] == [test_pool]
        assert hosts[0]["vcpus"] == os.cpu_count()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert token_file.read_text().strip() in (tmp_path / "up.log").read_text()
