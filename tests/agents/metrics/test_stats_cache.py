"""Slow libvirt stats groups are reused up to a max age, and their age is exposed honestly."""

from __future__ import annotations

import time

import libvirt
from metrics_test_support import CountingConnection
from prometheus_client import CollectorRegistry

from agents.metrics import STATS_GROUPS, LibvirtCollector
from agents.metrics_exposition import render_text

SLOW = libvirt.VIR_DOMAIN_STATS_BLOCK
FAST = libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_INTERFACE


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _asked(counting: CountingConnection) -> list[int]:
    return [groups for groups, _flags in counting.stats_calls]


def _cached_collector(
    conn: libvirt.virConnect,
    registry: CollectorRegistry,
    clock: _Clock,
    only: list[libvirt.virDomain] | None = None,
) -> CountingConnection:
    counting = CountingConnection(conn, only=only)
    LibvirtCollector(lambda: counting, registry, stats_max_age_s=60.0, clock=clock)
    return counting


def test_slow_groups_are_reused_within_the_max_age_from_a_real_guest(qemu_guest, registry) -> None:
    conn, dom = qemu_guest
    clock = _Clock()
    counting = _cached_collector(conn, registry, clock, [dom])
    block = {"domain": dom.name(), "server_id": dom.name().removeprefix("dcloud-"), "target_device": "vda"}

    first_reads = registry.get_sample_value("libvirt_domain_block_stats_read_requests_total", block)
    assert first_reads is not None
    clock.now += 59.0
    assert registry.get_sample_value("libvirt_domain_block_stats_read_requests_total", block) == first_reads
    # One call per scrape (each get_sample_value is one): the first reads all, the next only FAST.
    assert _asked(counting) == [STATS_GROUPS, STATS_GROUPS & ~SLOW]
    assert STATS_GROUPS & ~SLOW == FAST  # the cheap groups are read on every scrape


def test_cpu_time_is_read_fresh_on_every_scrape_even_with_the_cache(qemu_guest, registry) -> None:
    conn, dom = qemu_guest
    clock = _Clock()
    _cached_collector(conn, registry, clock, [dom])
    labels = {"domain": dom.name(), "server_id": dom.name().removeprefix("dcloud-")}

    first_cpu = registry.get_sample_value("libvirt_domain_info_cpu_time_seconds_total", labels)
    assert first_cpu is not None and first_cpu > 0
    deadline = time.monotonic() + 10
    while dom.info()[4] / 1e9 <= first_cpu and time.monotonic() < deadline:
        time.sleep(0.05)  # until the guest has used more CPU than the first scrape saw
    clock.now += 1.0  # well within the max age
    later = registry.get_sample_value("libvirt_domain_info_cpu_time_seconds_total", labels)
    assert later is not None and later > first_cpu


def test_slow_groups_are_read_again_once_older_than_the_max_age(qemu_guest, registry) -> None:
    conn, dom = qemu_guest
    clock = _Clock()
    counting = _cached_collector(conn, registry, clock, [dom])
    block = {"domain": dom.name(), "server_id": dom.name().removeprefix("dcloud-"), "target_device": "vda"}

    registry.get_sample_value("libvirt_domain_block_stats_read_requests_total", block)
    clock.now += 59.0
    registry.get_sample_value("libvirt_domain_block_stats_read_requests_total", block)
    clock.now += 1.0  # exactly the max age: no longer fresh
    registry.get_sample_value("libvirt_domain_block_stats_read_requests_total", block)
    assert _asked(counting) == [STATS_GROUPS, STATS_GROUPS & ~SLOW, STATS_GROUPS]


def test_the_age_gauge_counts_from_the_libvirt_read_and_restarts_at_refresh(qemu_guest, registry) -> None:
    conn, dom = qemu_guest
    clock = _Clock()
    _cached_collector(conn, registry, clock, [dom])

    def age(group: str) -> float | None:
        return registry.get_sample_value("dcloud_agent_stats_age_seconds", {"group": group})

    assert age("block") == 0.0
    clock.now += 42.5
    assert age("block") == 42.5
    clock.now += 20.0  # 62.5 s: past the max age, so this scrape reads it again
    assert age("block") == 0.0
    # never asked for (cpu_total: CPU time comes fresh from virDomainGetInfo), so never reported
    assert age("balloon") is None and age("vcpu") is None and age("cpu_total") is None


def test_a_domain_new_since_the_last_read_has_the_slow_groups_read_at_the_next_scrape(
    test_conn, define_domains, registry
) -> None:
    define_domains(1)
    clock = _Clock()
    counting = _cached_collector(test_conn, registry, clock)

    registry.get_sample_value("libvirt_up")
    define_domains(1)
    registry.get_sample_value("libvirt_up")  # served from the cache, which lacks the new domain
    registry.get_sample_value("libvirt_up")
    registry.get_sample_value("libvirt_up")
    assert _asked(counting) == [STATS_GROUPS, FAST, STATS_GROUPS, FAST]


def test_without_a_max_age_every_scrape_reads_every_group(test_conn, define_domains, registry) -> None:
    define_domains(2)
    counting = CountingConnection(test_conn)
    LibvirtCollector(lambda: counting, registry)

    registry.get_sample_value("libvirt_up")
    registry.get_sample_value("libvirt_up")
    assert _asked(counting) == [STATS_GROUPS, STATS_GROUPS]


def test_the_age_gauge_renders_in_the_text_format(test_conn, define_domains) -> None:
    define_domains(1)
    clock = _Clock()
    collector = LibvirtCollector(lambda: test_conn, stats_max_age_s=60.0, clock=clock)
    collector.samples()
    clock.now += 3.0
    text = render_text(collector.samples())
    assert 'dcloud_agent_stats_age_seconds{group="block"} 3.0\n' in text
    assert "# TYPE dcloud_agent_stats_age_seconds gauge\n" in text
