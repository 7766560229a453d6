"""Debian's real `prometheus`, on loopback, with the shipped scrape config pointed at a running stack (API +
agent on the real libvirtd): it scrapes both jobs, and a dcloud series and a per-domain series answer."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import LiveStack, free_port, start_stack, wait_for

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy/prometheus"
pytestmark = pytest.mark.libvirt


def _config_for(stack: LiveStack, directory: Path) -> Path:
    """The shipped files with only the targets and the intervals changed."""
    api = stack.base_url.removeprefix("http://")
    agent = f"127.0.0.1:{stack.agent_settings.agent_metrics_port}"
    text = (SHIPPED / "scrape.yml").read_text()
    shipped_targets = '["dcloud-api-1.internal:8080", "dcloud-api-2.internal:8080"]'
    assert shipped_targets in text and "scrape_interval: 30s" in text
    text = text.replace(shipped_targets, f'["{api}"]').replace("scrape_interval: 30s", "scrape_interval: 1s")
    text = text.replace("evaluation_interval: 30s", "evaluation_interval: 1s")
    text = text.replace("scrape_timeout: 10s", "scrape_timeout: 1s")
    (directory / "prometheus.yml").write_text(text)
    shutil.copy(SHIPPED / "dcloud-alerts.yml", directory / "dcloud-alerts.yml")
    (directory / "dcloud-hosts.yml").write_text(f'- targets: ["{agent}"]\n')
    return directory / "prometheus.yml"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LiveStack]:
    live = start_stack(tmp_path / "stack")
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def prometheus(stack: LiveStack, tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus missing: scripts/setup-host.sh installs Debian's prometheus package"
    config = _config_for(stack, tmp_path)
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address={address}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield f"http://{address}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _query(prometheus: str, expr: str) -> list[dict[str, object]]:
    try:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return []
    return list(answer.get("data", {}).get("result", []))


def test_prometheus_scrapes_the_control_plane_and_the_agent(stack: LiveStack, prometheus: str) -> None:
    server = stack.create_server("dctest-prom")
    wait_for(
        lambda: stack.api("GET", f"/v1/servers/{server['id']}").json()["observed_state"] == "running",
        timeout=60,
        what="the server running",
    )

    store_up = wait_for(
        lambda: _query(prometheus, 'dcloud_store_up{job="dcloud-controlplane"} == 1'),
        timeout=60,
        what="a scrape of the control plane",
    )
    domain = wait_for(
        lambda: _query(
            prometheus, f'libvirt_domain_info_state{{job="dcloud-agent", server_id="{server["id"]}"}}'
        ),
        timeout=60,
        what="a scrape of the agent with the server's domain",
    )
    assert store_up[0]["value"][1] == "1"  # type: ignore[index]
    assert domain[0]["value"][1] == "1"  # type: ignore[index]  # VIR_DOMAIN_RUNNING
    up = _query(prometheus, "up == 1")
    assert {r["metric"]["job"] for r in up} == {"dcloud-controlplane", "dcloud-agent"}  # type: ignore[index]
