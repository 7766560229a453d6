"""AgentMetrics (what the reconcile loop records) and the /metrics HTTP server."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import httpx
import libvirt
import pytest
from metrics_test_support import CountingConnection, domain_xml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from agents.metrics import DEFAULT_METRICS_PORT, AgentMetrics, LibvirtCollector, start_metrics_server


class StepTimer:
    """A timer a test moves by hand (the timer is an injected input, like the clock)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_completed_pass_records_its_duration_and_completion_time(registry: CollectorRegistry) -> None:
    timer = StepTimer()
    metrics = AgentMetrics(registry, wall_clock=lambda: 1_800_000_000.0, timer=timer)

    with metrics.time_reconcile():
        timer.now += 0.75

    assert registry.get_sample_value("dcloud_agent_reconcile_duration_seconds_count") == 1
    assert registry.get_sample_value("dcloud_agent_reconcile_duration_seconds_sum") == pytest.approx(0.75)
    assert registry.get_sample_value("dcloud_agent_reconcile_duration_seconds_bucket", {"le": "1.0"}) == 1
    assert registry.get_sample_value("dcloud_agent_reconcile_duration_seconds_bucket", {"le": "0.5"}) == 0
    assert registry.get_sample_value("dcloud_agent_last_reconcile_timestamp_seconds") == 1_800_000_000.0


def test_a_pass_that_raises_counts_an_error_and_is_not_the_last_completed(
    registry: CollectorRegistry,
) -> None:
    metrics = AgentMetrics(registry, wall_clock=lambda: 1_800_000_000.0)

    with pytest.raises(RuntimeError), metrics.time_reconcile():
        raise RuntimeError("libvirtd went away")

    assert registry.get_sample_value("dcloud_agent_reconcile_errors_total", {"kind": "pass"}) == 1
    assert registry.get_sample_value("dcloud_agent_reconcile_duration_seconds_count") == 1
    assert registry.get_sample_value("dcloud_agent_last_reconcile_timestamp_seconds") == 0


def test_errors_are_counted_per_kind(registry: CollectorRegistry) -> None:
    metrics = AgentMetrics(registry)

    metrics.count_error("libvirt")
    metrics.count_error("libvirt")
    metrics.count_error("control_plane")

    assert registry.get_sample_value("dcloud_agent_reconcile_errors_total", {"kind": "libvirt"}) == 2
    assert registry.get_sample_value("dcloud_agent_reconcile_errors_total", {"kind": "control_plane"}) == 1


def test_the_default_port_is_not_the_debian_libvirt_exporters() -> None:
    from controlplane.config import Settings

    assert DEFAULT_METRICS_PORT == Settings().agent_metrics_port == 8179
    assert DEFAULT_METRICS_PORT != 9177  # prometheus-libvirt-exporter's port


@pytest.fixture
def metrics_url(test_conn: libvirt.virConnect, define_domains) -> Iterator[str]:
    """A running /metrics server on a free loopback port with three dcloud domains behind it."""
    define_domains(3)
    agent_metrics = AgentMetrics()
    agent_metrics.observe_reconcile(0.2)
    agent_metrics.count_error("libvirt")
    server = start_metrics_server(0, LibvirtCollector(lambda: test_conn), agent_metrics, addr="127.0.0.1")
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_get_metrics_serves_libvirt_and_agent_series(metrics_url: str) -> None:
    response = httpx.get(metrics_url, timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "libvirt_up 1.0" in lines
    # the 3 dcloud domains; the driver's own "test" domain is not dcloud's and is not exposed
    assert sum(line.startswith("libvirt_domain_info_state{") for line in lines) == 3
    assert 'dcloud_agent_reconcile_errors_total{kind="libvirt"} 1.0' in lines
    assert "dcloud_agent_reconcile_duration_seconds_count 1.0" in lines


def test_metrics_text_passes_promtool_check(metrics_url: str) -> None:
    # promtool comes with Debian's `prometheus` package (apt-get install prometheus).
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/setup-host.sh installs Debian's prometheus package"
    text = httpx.get(metrics_url, timeout=10).text

    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_registry_given_at_construction_is_reused_without_duplicates_or_extra_calls(
    test_conn: libvirt.virConnect,
) -> None:
    registry = CollectorRegistry()
    counting = CountingConnection(test_conn)
    collector = LibvirtCollector(lambda: counting, registry)
    agent_metrics = AgentMetrics(registry)

    server = start_metrics_server(0, collector, agent_metrics, registry, addr="127.0.0.1")
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        server.server_close()

    lines = text.splitlines()
    assert lines.count("libvirt_up 1.0") == 1
    assert lines.count("# TYPE dcloud_agent_reconcile_duration_seconds histogram") == 1
    assert len(counting.stats_calls) == 1


def test_http_text_and_registry_expose_the_same_samples(
    test_conn: libvirt.virConnect, define_domains, registry: CollectorRegistry
) -> None:
    define_domains(4)[2].suspend()
    odd = 'dcloud-dctest-odd "quoted" back\\slash'  # must be escaped in the text format
    test_conn.defineXML(domain_xml(odd))
    collector = LibvirtCollector(lambda: test_conn, registry)
    server = start_metrics_server(0, collector, AgentMetrics(), addr="127.0.0.1")
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
        # Each registry.collect() is a scrape of its own: take it while the same domains exist.
        collected = {
            (s.name, tuple(sorted(s.labels.items())), s.value)
            for family in registry.collect()
            for s in family.samples
        }
    finally:
        server.shutdown()
        server.server_close()
        test_conn.lookupByName(odd).undefine()

    served = {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(("libvirt_", "dcloud_agent_stats_age_seconds"))
    }
    # The test driver's CPU time is the wall clock, different in each scrape: compare its series, not values.
    cpu = "libvirt_domain_info_cpu_time_seconds_total"
    assert {k[:2] for k in served if k[0] == cpu} == {k[:2] for k in collected if k[0] == cpu} != set()
    assert {k for k in served if k[0] != cpu} == {k for k in collected if k[0] != cpu}
    assert (
        "libvirt_domain_info_state",
        (("domain", odd), ("server_id", odd.removeprefix("dcloud-"))),
        5.0,
    ) in served


def test_gzip_is_served_when_asked_for(metrics_url: str) -> None:
    response = httpx.get(metrics_url, headers={"Accept-Encoding": "gzip"}, timeout=10)

    assert response.headers["content-encoding"] == "gzip"
    assert "libvirt_up 1.0" in response.text.splitlines()


def test_content_type_names_the_text_format_version_the_body_is_in(metrics_url: str) -> None:
    response = httpx.get(metrics_url, timeout=10)

    # Both halves of the body (the hand-written libvirt series, prometheus_client's rest) are 0.0.4.
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_gzip_is_negotiated_by_encoding_name_not_by_substring(metrics_url: str) -> None:
    listed = httpx.get(metrics_url, headers={"Accept-Encoding": "deflate, GZIP;q=0.5"}, timeout=10)
    lookalike = httpx.get(metrics_url, headers={"Accept-Encoding": "x-gzip-ish"}, timeout=10)

    assert listed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in lookalike.headers
    assert "libvirt_up 1.0" in lookalike.text.splitlines()


def test_other_paths_are_not_found(metrics_url: str) -> None:
    assert httpx.get(metrics_url.replace("/metrics", "/nope"), timeout=10).status_code == 404
