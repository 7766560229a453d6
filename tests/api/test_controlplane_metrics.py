"""The control plane's /metrics: fleet numbers as Prometheus sees them, valid for promtool."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from tests.utils.api import Api


def _samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.client.get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_hosts_by_health_and_servers_by_state(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("hv2")
    server = api.add_server("web")
    api.add_server("db")
    assert api.call("POST", f"/v1/servers/{server['id']}/suspend", role="operator").status_code == 200
    api.clock.advance(seconds=api.settings.heartbeat_interval_s * 2 + 1)
    api.beat("hv2")

    samples = _samples(api)

    assert samples[("dcloud_hosts", (("health", "up"),))] == 1
    assert samples[("dcloud_hosts", (("health", "unknown"),))] == 1
    assert samples[("dcloud_servers", (("desired", "suspended"), ("observed", "pending")))] == 1
    assert samples[("dcloud_servers", (("desired", "running"), ("observed", "pending")))] == 1
    assert samples[("dcloud_store_up", ())] == 1


def test_pending_deletion_age_grows_until_the_record_arrives(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server("web")
    assert api.call("DELETE", f"/v1/servers/{server['id']}", role="operator").status_code == 202
    api.clock.advance(minutes=10)

    age = _samples(api)[("dcloud_deletion_pending_oldest_seconds", ())]

    assert age == timedelta(minutes=10).total_seconds()


def test_metrics_need_no_token_and_pass_promtool(api: Api) -> None:
    api.add_host("hv1")
    text = api.client.get("/metrics").text
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/setup-host.sh installs Debian's prometheus package"
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
