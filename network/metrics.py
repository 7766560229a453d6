"""Prometheus metrics of the network module: per-pool utilisation and WHOIS queries/refusals.

Mount on the control plane's registry with `register_network_metrics(registry, engine, clock)`; the
pool gauges are read from the store at scrape time, so every replica reports the same numbers. The WHOIS
counters belong to a server instance (`WhoisCounters`); `dcloud up` runs the server in the control plane's
process with the process-wide `WHOIS`, which is what the control plane's registry exposes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.clock import Clock
from network.pools import list_pools, utilisation

log = logging.getLogger(__name__)


class WhoisCounters(Collector):
    """What one WHOIS server answered and refused; a collector, exposed by the registry it is given."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # Unregistered metric objects: this collector (or a NetworkCollector yielding it) is what a
        # registry holds, so each server can count into its own instance.
        self.queries = Counter(
            "dcloud_whois_queries", "WHOIS queries answered, by result", ["result"], registry=None
        )
        self.refusals = Counter(
            "dcloud_whois_refusals",
            "WHOIS queries refused with an error line, by reason",
            ["reason"],
            registry=None,
        )
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterator[Metric]:
        yield from self.queries.collect()
        yield from self.refusals.collect()


WHOIS = WhoisCounters()  # the process's server: what `dcloud up` runs and the control plane exposes


class NetworkCollector(Collector):
    """Pool size / assigned / quarantined / free per pool, plus the WHOIS counters."""

    def __init__(self, engine: Engine, clock: Clock, whois: WhoisCounters = WHOIS) -> None:
        self.engine, self.clock, self.whois = engine, clock, whois

    def _pool_families(self) -> list[GaugeMetricFamily]:
        names = ("size", "assigned", "quarantined", "free")
        families = {
            n: GaugeMetricFamily(
                f"dcloud_ip_pool_{n}", f"Addresses of the pool: {n}", labels=["pool", "cidr"]
            )
            for n in names
        }
        now = self.clock()
        with Session(self.engine) as session:
            for pool in list_pools(session):
                use = utilisation(session, pool=pool, at=now)
                for n in names:
                    families[n].add_metric([pool.name, pool.cidr], float(getattr(use, n)))
        return list(families.values())

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._pool_families()
        except Exception:  # a store hiccup must not fail the whole scrape; the WHOIS counters still go out
            log.exception("pool metrics unavailable")
        yield from self.whois.collect()


def register_network_metrics(
    registry: CollectorRegistry, engine: Engine, clock: Clock, *, whois: WhoisCounters = WHOIS
) -> NetworkCollector:
    collector = NetworkCollector(engine, clock, whois)
    registry.register(collector)
    return collector
