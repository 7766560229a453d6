"""The agent's /metrics: per-domain libvirt stats and the reconcile loop's own numbers.

Modelled on prometheus_client's ProcessCollector: inputs are injected (the connection factory, the
registry), and a failing read yields partial output (`libvirt_up 0`) instead of a failed scrape.
Per-domain series come from ONE bulk `getAllDomainStats` per scrape, as libvirt exporters do, with
NOWAIT so a domain stuck in a monitor job cannot stall the scrape, plus each running domain's CPU time
from virDomainGetInfo. The slow group (block) is asked for only when its last answer is older than a
max age (`agents.stats_cache`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIServer

import libvirt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from agents.domain_xml import DOMAIN_PREFIX
from agents.metrics_exposition import (
    LIBVIRT_UP,
    STATS_AGE,
    DomainStats,
    Samples,
    extract_samples,
    render_text,
    serve_metrics,
    to_metric_families,
)
from agents.stats_cache import StatsGroupCache

log = logging.getLogger(__name__)

# Not 9177: Debian's prometheus-libvirt-exporter listens there, and an operator may run both on a host
# (it is the bench baseline). Prometheus's exporter range 9100-9999 is fully allocated, so dcloud's agent
# sits outside it, on a port /etc/services does not name.
DEFAULT_METRICS_PORT = 8179

ConnFactory = Callable[[], "libvirt.virConnect | None"]

# Stats groups we read: only those the shipped dashboard and alerts use (state, CPU time, disk and
# network I/O). `balloon` and `vcpu` cost libvirtd ~19 and ~15 ms per scrape at 10 guests (QEMU round
# trips) for memory and vCPU counts the control plane already knows per server, so they are not asked
# for (libvirt_domain_info_memory_bytes / _vcpus then stay absent). A driver that lacks a group (the
# test driver has only `state`) just omits it.
# CPU time is not the `cpu_total` group either: libvirtd reads cgroup and KVM halt-poll stats for it,
# 22 ms per scrape at 30 guests, where virDomainGetInfo's CPU time (the QEMU process's, from /proc) is
# 3 ms for all 30 and needs no monitor job. So CPU time is read fresh on every scrape, never cached.
STATS_GROUPS = (
    libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_INTERFACE | libvirt.VIR_DOMAIN_STATS_BLOCK
)
_OFF = libvirt.VIR_DOMAIN_SHUTOFF
_NOWAIT = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
# Errors meaning "this connection does not understand the NOWAIT flag", not "libvirt is down".
_FLAG_UNSUPPORTED = frozenset({libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT})


def server_id_of(domain_name: str) -> str:
    """The dcloud server id in a `dcloud-<id>` domain name; empty for domains dcloud does not own."""
    if domain_name.startswith(DOMAIN_PREFIX) and len(domain_name) > len(DOMAIN_PREFIX):
        return domain_name[len(DOMAIN_PREFIX) :]
    return ""


def _with_cpu_time(records: list[DomainStats]) -> list[DomainStats]:
    """Adds `cpu.time` (ns, as the cpu_total group names it) to every domain that is not off."""
    for dom, stats in records:
        if stats.get("state.state") == _OFF or "cpu.time" in stats:
            continue
        try:
            stats["cpu.time"] = dom.info()[4]
        except libvirt.libvirtError as exc:  # gone since the bulk call: its other series still count
            log.debug("no CPU time for %s: %s", dom.name(), exc)
    return records


class LibvirtCollector(Collector):
    """Collects `libvirt_up` and `libvirt_domain_*` from whatever connection `conn_factory` returns."""

    def __init__(
        self,
        conn_factory: ConnFactory,
        registry: CollectorRegistry | None = None,
        *,
        stats_max_age_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conn_factory = conn_factory
        # max age 0: every scrape reads every group (the cache only ever holds the answer just read).
        self._cache = StatsGroupCache(STATS_GROUPS, stats_max_age_s, clock)
        # Probed on first use; reset when a connection rejects the flag (e.g. after reconnecting elsewhere).
        self._nowait: bool = True
        self._lock = threading.Lock()
        self._scrape = threading.local()
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterable[Metric]:
        if getattr(self._scrape, "rendered", False):
            return []
        return to_metric_families(self.samples())

    @contextlib.contextmanager
    def already_rendered(self) -> Iterator[None]:
        """Within this block (this thread), collect() is empty: the scrape already has our series."""
        self._scrape.rendered = True
        try:
            yield
        finally:
            self._scrape.rendered = False

    def render_text(self) -> str:
        """The same series as collect(), in the text format, without prometheus_client's per-sample cost."""
        return render_text(self.samples())

    def samples(self) -> Samples:
        """One scrape's worth of samples: one bulk stats call, then pure formatting."""
        asked, now = self._cache.plan()
        records = self._read_stats(asked, now)
        samples = extract_samples(records or [], server_id_of)
        samples[LIBVIRT_UP] = [((), 0.0 if records is None else 1.0)]
        if records is not None:  # the age of what this scrape exposes, as of its libvirt read
            samples[STATS_AGE] = [((group,), age) for group, age in sorted(self._cache.ages(now).items())]
        return samples

    def _read_stats(self, asked: int, now: float) -> list[DomainStats] | None:
        """One bulk stats call for the groups `asked`, the rest from the cache; None without a connection."""
        try:
            conn = self._conn_factory()
            if conn is None:
                return None
            return _with_cpu_time(self._cache.merge(self._all_domain_stats(conn, asked), asked, now))
        except libvirt.libvirtError as exc:
            log.warning("libvirt stats read failed: %s", exc)
            return None

    def _all_domain_stats(self, conn: libvirt.virConnect, groups: int) -> list[DomainStats]:
        with self._lock:
            nowait = self._nowait
        if not nowait:
            return conn.getAllDomainStats(groups, 0)
        try:
            return conn.getAllDomainStats(groups, _NOWAIT)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() not in _FLAG_UNSUPPORTED:
                raise
            # Older drivers reject NOWAIT: remember that and ask again without it (first scrape only).
            with self._lock:
                self._nowait = False
            return conn.getAllDomainStats(groups, 0)


class AgentMetrics(Collector):
    """The reconcile loop's own metrics; the Reconciler updates them, the metrics server exposes them."""

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
        self.soft_reboot_fallbacks = Counter(
            "dcloud_agent_soft_reboot_fallbacks",
            "Soft reboots the guest ignored for DCLOUD_SOFT_REBOOT_TIMEOUT_S, then forced by a reset.",
            registry=None,
        )
        self.last_reconcile = Gauge(
            "dcloud_agent_last_reconcile_timestamp_seconds",
            "Unix time at which the last reconcile pass completed.",
            registry=None,
        )
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterable[Metric]:
        for metric in (
            self.reconcile_duration,
            self.reconcile_errors,
            self.soft_reboot_fallbacks,
            self.last_reconcile,
        ):
            yield from metric.collect()

    def observe_reconcile(self, duration_s: float) -> None:
        """Record one completed pass: its duration, and now as the last reconcile time."""
        self.reconcile_duration.observe(duration_s)
        self.last_reconcile.set(self._wall_clock())

    def count_error(self, kind: str) -> None:
        """Count one error; `kind` is a small fixed vocabulary (e.g. "libvirt", "control_plane", "wipe")."""
        self.reconcile_errors.labels(kind=kind).inc()

    def count_soft_reboot_fallback(self) -> None:
        self.soft_reboot_fallbacks.inc()

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
    addr: str = "127.0.0.1",
) -> WSGIServer:
    """Serve /metrics in a daemon thread; stop with `server.shutdown(); server.server_close()`.

    Loopback by default (`DCLOUD_AGENT_METRICS_ADDR` widens it for a Prometheus on another machine).
    `registry` may carry further collectors to expose; libvirt and agent series appear once even if
    they are registered there too. `port=0` picks a free port (read back `server.server_port`).
    """
    # process_* of the agent itself (prometheus_client's collector, unregistered: served from here only).
    process = ProcessCollector(registry=None)
    return serve_metrics(port, addr, collector, [agent_metrics, process, registry])
