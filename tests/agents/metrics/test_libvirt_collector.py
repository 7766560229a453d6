"""LibvirtCollector: what a scrape exposes, and that it costs exactly one bulk stats call."""

from __future__ import annotations

import time
from collections.abc import Callable

import libvirt
import pytest
from metrics_test_support import CountingConnection
from prometheus_client import CollectorRegistry, generate_latest

from agents.metrics import LibvirtCollector, server_id_of

RUNNING, PAUSED, SHUTOFF = 1, 3, 5
UNKNOWN_FLAG = 1 << 20  # no libvirt release defines this bit for getAllDomainStats


def _scrape(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_a_scrape_of_20_domains_makes_exactly_one_bulk_stats_call(
    test_conn: libvirt.virConnect, define_domains, registry: CollectorRegistry
) -> None:
    define_domains(20)
    counting = CountingConnection(test_conn)
    LibvirtCollector(lambda: counting, registry)

    _scrape(registry)
    assert len(counting.stats_calls) == 1
    _scrape(registry)
    assert len(counting.stats_calls) == 2


def test_the_bulk_call_asks_for_nowait_when_the_driver_supports_it(
    test_conn: libvirt.virConnect, registry: CollectorRegistry
) -> None:
    counting = CountingConnection(test_conn)
    LibvirtCollector(lambda: counting, registry)

    _scrape(registry)

    ((_stats, flags),) = counting.stats_calls
    assert flags & libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT


class _OldDriver(CountingConnection):
    """Turns NOWAIT into a flag bit the real test driver rejects, as a driver predating NOWAIT does."""

    def getAllDomainStats(self, stats: int = 0, flags: int = 0):
        self.stats_calls.append((stats, flags))
        if flags & libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT:
            flags = (flags & ~libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT) | UNKNOWN_FLAG
        return self._conn.getAllDomainStats(stats, flags)


def test_a_driver_without_nowait_is_asked_again_without_it_and_remembered(
    test_conn: libvirt.virConnect, define_domains, registry: CollectorRegistry
) -> None:
    dom = define_domains(1)[0]
    old = _OldDriver(test_conn)
    LibvirtCollector(lambda: old, registry)

    nowait = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
    labels = {"domain": dom.name(), "server_id": server_id_of(dom.name())}

    # Each get_sample_value is one scrape: the first probes NOWAIT, is refused, and asks again without it.
    assert registry.get_sample_value("libvirt_domain_info_state", labels) == RUNNING
    assert [flags & nowait for _stats, flags in old.stats_calls] == [nowait, 0]
    assert registry.get_sample_value("libvirt_up") == 1.0
    assert [flags & nowait for _stats, flags in old.stats_calls] == [nowait, 0, 0]


def test_each_domain_reports_its_state_and_server_id(
    test_conn: libvirt.virConnect, define_domains, registry: CollectorRegistry
) -> None:
    doms = define_domains(5)
    doms[1].suspend()
    doms[2].destroy()
    LibvirtCollector(lambda: test_conn, registry)

    def state(dom: libvirt.virDomain) -> float | None:
        server_id = dom.name().removeprefix("dcloud-")
        return registry.get_sample_value(
            "libvirt_domain_info_state", {"domain": dom.name(), "server_id": server_id}
        )

    assert [state(d) for d in doms] == [RUNNING, PAUSED, SHUTOFF, RUNNING, RUNNING]


def test_info_series_carries_the_uuid(
    test_conn: libvirt.virConnect, define_domains, registry: CollectorRegistry
) -> None:
    dom = define_domains(1)[0]
    LibvirtCollector(lambda: test_conn, registry)

    labels = {"domain": dom.name(), "server_id": dom.name().removeprefix("dcloud-"), "uuid": dom.UUIDString()}
    assert registry.get_sample_value("libvirt_domain_info", labels) == 1.0


def test_a_domain_dcloud_does_not_own_is_not_exposed(
    test_conn: libvirt.virConnect, registry: CollectorRegistry
) -> None:
    LibvirtCollector(lambda: test_conn, registry)

    # test:///default ships one domain named "test": an orphan from dcloud's point of view, reported to
    # the control plane as such but never listed on the host's /metrics.
    assert registry.get_sample_value("libvirt_domain_info_state", {"domain": "test", "server_id": ""}) is None
    assert registry.get_sample_value("libvirt_up") == 1


def test_libvirt_up_is_1_on_a_live_connection(
    test_conn: libvirt.virConnect, registry: CollectorRegistry
) -> None:
    LibvirtCollector(lambda: test_conn, registry)

    assert registry.get_sample_value("libvirt_up") == 1.0


def test_a_closed_connection_gives_libvirt_up_0_and_the_scrape_still_succeeds(
    test_conn: libvirt.virConnect, define_domains, registry: CollectorRegistry
) -> None:
    define_domains(3)
    LibvirtCollector(lambda: test_conn, registry)
    test_conn.close()

    text = _scrape(registry)

    assert registry.get_sample_value("libvirt_up") == 0.0
    assert "libvirt_domain_info_state" not in text


def test_no_connection_yet_gives_libvirt_up_0(registry: CollectorRegistry) -> None:
    LibvirtCollector(lambda: None, registry)

    assert registry.get_sample_value("libvirt_up") == 0.0


def test_a_failing_connect_gives_libvirt_up_0(registry: CollectorRegistry) -> None:
    LibvirtCollector(lambda: libvirt.open("test:///nonexistent-dctest/nodes.xml"), registry)

    assert registry.get_sample_value("libvirt_up") == 0.0


def test_server_id_is_read_from_the_dcloud_name_only() -> None:
    assert server_id_of("dcloud-3f2a") == "3f2a"
    assert server_id_of("dcloud-") == ""
    assert server_id_of("web01") == ""
    assert server_id_of("xdcloud-3f2a") == ""


@pytest.mark.libvirt
def _agree(scrape: Callable[[], tuple], ask_libvirt: Callable[[], tuple]) -> tuple:
    """The scraped numbers once they equal libvirt's own per-device API (a running guest may move them)."""
    for _ in range(50):
        scraped, direct = scrape(), ask_libvirt()
        if scraped == direct:
            return scraped
        time.sleep(0.1)
    raise AssertionError(f"scrape {scraped} never matched libvirt {direct}")


def test_a_real_guest_exposes_cpu_block_and_interface_stats_and_nothing_unasked(
    qemu_guest: tuple[libvirt.virConnect, libvirt.virDomain], registry: CollectorRegistry
) -> None:
    conn, dom = qemu_guest
    LibvirtCollector(lambda: conn, registry)
    labels = {"domain": dom.name(), "server_id": dom.name().removeprefix("dcloud-")}
    block = {**labels, "target_device": "vda"}
    net = {**labels, "device": dom.name().replace("dcloud-dctest-", "dct")}

    def sample(name: str, labels: dict[str, str]) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("libvirt_domain_info_cpu_time_seconds_total", labels) > 0
    # Not asked of libvirtd (the balloon and vcpu groups cost QEMU round trips; no dashboard uses them).
    assert sample("libvirt_domain_info_vcpus", labels) is None
    assert sample("libvirt_domain_info_memory_bytes", labels) is None
    # Compared with virDomainBlockStats / virDomainInterfaceStats, separate calls from the bulk one.
    _agree(
        lambda: tuple(
            sample(f"libvirt_domain_block_stats_{m}_total", block)
            for m in ("read_requests", "read_bytes", "write_requests", "write_bytes")
        ),
        lambda: tuple(float(v) for v in dom.blockStats("vda")[:4]),
    )
    _agree(
        lambda: tuple(
            sample(f"libvirt_domain_interface_stats_{m}_bytes_total", net) for m in ("receive", "transmit")
        ),
        lambda: tuple(float(dom.interfaceStats(net["device"])[i]) for i in (0, 4)),
    )
