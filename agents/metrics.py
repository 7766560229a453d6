"""The agent's /metrics: per-domain libvirt stats and the reconcile loop's own numbers.

Modelled on prometheus_client's ProcessCollector: inputs are injected (the connection factory, the
registry), and a failing read yields partial output (`libvirt_up 0`) instead of a failed scrape.
Per-domain series come from ONE bulk `getAllDomainStats` per scrape, as libvirt exporters do, with
NOWAIT so a domain stuck in a monitor job cannot stall the scrape.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

import libvirt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

DEFAULT_METRICS_PORT = 9177
DOMAIN_PREFIX = "dcloud-"

ConnFactory = Callable[[], "libvirt.virConnect | None"]

# Stats groups we read; a driver that lacks one (the test driver has only `state`) just omits it.
STATS_GROUPS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
    | libvirt.VIR_DOMAIN_STATS_BLOCK
)
_NOWAIT = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
# Errors meaning "this connection does not understand the NOWAIT flag", not "libvirt is down".
_FLAG_UNSUPPORTED = frozenset({libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT})

DOMAIN_LABELS = ["domain", "server_id"]
BLOCK_LABELS = [*DOMAIN_LABELS, "target_device"]
NET_LABELS = [*DOMAIN_LABELS, "device"]


def server_id_of(domain_name: str) -> str:
    """The dcloud server id in a `dcloud-<id>` domain name; empty for domains dcloud does not own."""
    if domain_name.startswith(DOMAIN_PREFIX) and len(domain_name) > len(DOMAIN_PREFIX):
        return domain_name[len(DOMAIN_PREFIX) :]
    return ""


class LibvirtCollector(Collector):
    """Collects `libvirt_up` and `libvirt_domain_*` from whatever connection `conn_factory` returns."""

    def __init__(self, conn_factory: ConnFactory, registry: CollectorRegistry | None = None) -> None:
        self._conn_factory = conn_factory
        # Probed on first use; reset when a connection rejects the flag (e.g. after reconnecting elsewhere).
        self._nowait: bool = True
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterable[Metric]:
        records = self._read_stats()
        up = GaugeMetricFamily("libvirt_up", "Whether the last libvirt stats read succeeded (1) or not (0).")
        up.add_metric([], 0.0 if records is None else 1.0)
        yield up
        if records is not None:
            yield from _domain_families(records)

    def _read_stats(self) -> list[tuple[libvirt.virDomain, dict[str, Any]]] | None:
        """One bulk stats call; None when there is no usable connection."""
        try:
            conn = self._conn_factory()
            if conn is None:
                return None
            return self._all_domain_stats(conn)
        except libvirt.libvirtError as exc:
            log.warning("libvirt stats read failed: %s", exc)
            return None

    def _all_domain_stats(self, conn: libvirt.virConnect) -> list[tuple[libvirt.virDomain, dict[str, Any]]]:
        with self._lock:
            nowait = self._nowait
        if not nowait:
            return conn.getAllDomainStats(STATS_GROUPS, 0)
        try:
            return conn.getAllDomainStats(STATS_GROUPS, _NOWAIT)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() not in _FLAG_UNSUPPORTED:
                raise
            # Older drivers reject NOWAIT: remember that and ask again without it (first scrape only).
            with self._lock:
                self._nowait = False
            return conn.getAllDomainStats(STATS_GROUPS, 0)


class _Families:
    """The libvirt_domain_* metric families of one scrape."""

    def __init__(self) -> None:
        self.info = InfoMetricFamily("libvirt_domain", "Domain metadata.", labels=[*DOMAIN_LABELS, "uuid"])
        self.state = _gauge("libvirt_domain_info_state", "virDomainState (1 running, 3 paused, 5 shut off).")
        self.cpu = _counter("libvirt_domain_info_cpu_time_seconds", "CPU time used by the domain.")
        self.vcpus = _gauge("libvirt_domain_info_vcpus", "Number of virtual CPUs online.")
        self.memory = _gauge("libvirt_domain_info_memory_bytes", "Memory currently assigned to the domain.")
        self.blk_rd_bytes = _counter("libvirt_domain_block_stats_read_bytes", "Bytes read.", BLOCK_LABELS)
        self.blk_wr_bytes = _counter("libvirt_domain_block_stats_write_bytes", "Bytes written.", BLOCK_LABELS)
        self.blk_rd_reqs = _counter("libvirt_domain_block_stats_read_requests", "Reads.", BLOCK_LABELS)
        self.blk_wr_reqs = _counter("libvirt_domain_block_stats_write_requests", "Writes.", BLOCK_LABELS)
        self.net_rx = _counter("libvirt_domain_interface_stats_receive_bytes", "Bytes received.", NET_LABELS)
        self.net_tx = _counter("libvirt_domain_interface_stats_transmit_bytes", "Bytes sent.", NET_LABELS)

    def non_empty(self) -> list[Metric]:
        """Families with samples: a driver without block stats (the test driver) exposes none."""
        return [value for value in vars(self).values() if isinstance(value, Metric) and value.samples]


def _gauge(name: str, doc: str, labels: list[str] = DOMAIN_LABELS) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _counter(name: str, doc: str, labels: list[str] = DOMAIN_LABELS) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=labels)


def _domain_families(records: list[tuple[libvirt.virDomain, dict[str, Any]]]) -> Iterator[Metric]:
    families = _Families()
    for dom, stats in records:
        try:
            _add_domain(families, dom, stats)
        except (libvirt.libvirtError, KeyError, TypeError, ValueError) as exc:
            # One odd record must not cost the other domains their series.
            log.warning("skipping stats of one domain: %s", exc)
    yield from families.non_empty()


def _add_domain(families: _Families, dom: libvirt.virDomain, stats: dict[str, Any]) -> None:
    name = dom.name()  # name/UUID are cached in the handle: no extra RPC per domain
    labels = [name, server_id_of(name)]
    families.info.add_metric(labels, {"uuid": dom.UUIDString()})
    if "state.state" in stats:
        families.state.add_metric(labels, float(stats["state.state"]))
    if "cpu.time" in stats:
        families.cpu.add_metric(labels, stats["cpu.time"] / 1e9)  # nanoseconds
    if "vcpu.current" in stats:
        families.vcpus.add_metric(labels, float(stats["vcpu.current"]))
    memory_kib = stats.get("balloon.current", stats.get("balloon.maximum"))
    if memory_kib is not None:
        families.memory.add_metric(labels, memory_kib * 1024.0)
    _add_blocks(families, labels, stats)
    _add_interfaces(families, labels, stats)


def _add_blocks(families: _Families, labels: list[str], stats: dict[str, Any]) -> None:
    for i in range(int(stats.get("block.count", 0))):
        key = f"block.{i}."
        device = [*labels, str(stats.get(key + "name", i))]
        for family, field in (
            (families.blk_rd_bytes, "rd.bytes"),
            (families.blk_wr_bytes, "wr.bytes"),
            (families.blk_rd_reqs, "rd.reqs"),
            (families.blk_wr_reqs, "wr.reqs"),
        ):
            if key + field in stats:
                family.add_metric(device, float(stats[key + field]))


def _add_interfaces(families: _Families, labels: list[str], stats: dict[str, Any]) -> None:
    for i in range(int(stats.get("net.count", 0))):
        key = f"net.{i}."
        device = [*labels, str(stats.get(key + "name", i))]
        if key + "rx.bytes" in stats:
            families.net_rx.add_metric(device, float(stats[key + "rx.bytes"]))
        if key + "tx.bytes" in stats:
            families.net_tx.add_metric(device, float(stats[key + "tx.bytes"]))


class AgentMetrics(Collector):
    """The reconcile loop's own metrics; A3's Reconciler updates them, the metrics server exposes them."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._wall_clock = wall_clock
        self._timer = timer
        # Unregistered metric objects: this collector is what gets registered, so one instance can be
        # served from a dedicated registry without touching prometheus_client's global REGISTRY.
        self.reconcile_duration = Histogram(
            "dcloud_agent_reconcile_duration_seconds",
            "Duration of one reconcile pass.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
            registry=None,
        )
        self.reconcile_errors = Counter(
            "dcloud_agent_reconcile_errors", "Reconcile errors by kind.", ["kind"], registry=None
        )
        self.last_reconcile = Gauge(
            "dcloud_agent_last_reconcile_timestamp_seconds",
            "Unix time at which the last reconcile pass completed.",
            registry=None,
        )
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterable[Metric]:
        for metric in (self.reconcile_duration, self.reconcile_errors, self.last_reconcile):
            yield from metric.collect()

    def observe_reconcile(self, duration_s: float) -> None:
        """Record one completed pass: its duration, and now as the last reconcile time."""
        self.reconcile_duration.observe(duration_s)
        self.last_reconcile.set(self._wall_clock())

    def count_error(self, kind: str) -> None:
        """Count one error; `kind` is a small fixed vocabulary (e.g. "libvirt", "control_plane", "wipe")."""
        self.reconcile_errors.labels(kind=kind).inc()

    @contextlib.contextmanager
    def time_reconcile(self) -> Iterator[None]:
        """Time a pass; a pass that raises counts as error kind "pass" and is not 'last completed'."""
        start = self._timer()
        try:
            yield
        except BaseException:
            self.reconcile_duration.observe(self._timer() - start)
            self.count_error("pass")
            raise
        self.observe_reconcile(self._timer() - start)


def start_metrics_server(
    port: int,
    collector: LibvirtCollector,
    agent_metrics: AgentMetrics,
    registry: CollectorRegistry | None = None,
    *,
    addr: str = "0.0.0.0",
) -> WSGIServer:
    """Serve /metrics from a dedicated registry in a daemon thread; stop with shutdown()+server_close().

    `port=0` picks a free port (read it back from `server.server_port`).
    """
    registry = registry if registry is not None else CollectorRegistry()
    for member in (collector, agent_metrics):
        with contextlib.suppress(ValueError):  # already registered in this registry at construction
            registry.register(member)
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return server
