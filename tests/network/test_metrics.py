"""Network metrics as Prometheus scrapes them: per-pool gauges and WHOIS counters, promtool-clean."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine

from controlplane.clock import FixedClock
from controlplane.db import session_scope
from network.metrics import WhoisCounters, register_network_metrics
from network.pools import PoolSpec, create_pool
from network.service import allocate_server_address, release_server_addresses
from tests.utils.factories import make_host, make_server


@pytest.fixture
def whois() -> WhoisCounters:
    return WhoisCounters()


@pytest.fixture
def registry(sqlite_engine: Engine, clock: FixedClock, whois: WhoisCounters) -> CollectorRegistry:
    registry = CollectorRegistry()
    register_network_metrics(registry, sqlite_engine, clock, whois=whois)
    return registry


def test_pool_gauges_follow_assignments_and_quarantine(
    registry: CollectorRegistry, sqlite_engine: Engine, clock: FixedClock
) -> None:
    with session_scope(sqlite_engine) as s:
        create_pool(
            s,
            spec=PoolSpec(name="pub", cidr="192.0.2.0/29", network_name="n", gateway="192.0.2.1"),
            at=clock(),
        )
        host = make_host(s)
        servers = [make_server(s, host, name=f"s{i}") for i in range(3)]
        for server in servers:
            allocate_server_address(s, server=server, at=clock())
        release_server_addresses(s, server_id=servers[0].id, at=clock())
    labels = {"pool": "pub", "cidr": "192.0.2.0/29"}
    assert registry.get_sample_value("dcloud_ip_pool_size", labels) == 5
    assert registry.get_sample_value("dcloud_ip_pool_assigned", labels) == 2
    assert registry.get_sample_value("dcloud_ip_pool_quarantined", labels) == 1
    assert registry.get_sample_value("dcloud_ip_pool_free", labels) == 2
    clock.advance(days=30)
    assert registry.get_sample_value("dcloud_ip_pool_quarantined", labels) == 0


def test_whois_counters_are_exposed(registry: CollectorRegistry, whois: WhoisCounters) -> None:
    whois.refusals.labels(reason="oversize").inc()
    assert registry.get_sample_value("dcloud_whois_refusals_total", {"reason": "oversize"}) == 1


def test_exposition_passes_promtool(
    registry: CollectorRegistry, sqlite_engine: Engine, clock: FixedClock, whois: WhoisCounters
) -> None:
    with session_scope(sqlite_engine) as s:
        create_pool(s, spec=PoolSpec(name="pub", cidr="192.0.2.0/24", network_name="n"), at=clock())
    whois.queries.labels(result="match").inc()
    text = generate_latest(registry)
    assert b"dcloud_ip_pool_size" in text and b"dcloud_whois_queries_total" in text
    checked = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
