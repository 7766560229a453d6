"""The libvirt series as data, rendered either as prometheus_client families or directly as text.

prometheus_client validates and escapes every label of every sample; with hundreds of domains that
costs several times the bulk stats call itself, so /metrics renders these series straight to the
text format (0.0.4) from the same samples that `collect()` turns into metric families.
"""

from __future__ import annotations

import gzip
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import libvirt
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, ThreadingWSGIServer, gzip_accepted
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

DomainStats = tuple[libvirt.virDomain, dict[str, Any]]

# What the body is: render_text writes 0.0.4, and generate_latest without an `escaping` argument does too
# (prometheus_client's CONTENT_TYPE_LATEST names 1.0.0, which only its negotiated encoder produces).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


# eq=False: identity hashing. Families are module constants used as dict keys once per sample;
# the generated field-tuple hash measurably slowed a 500-domain scrape.
@dataclass(frozen=True, eq=False)
class Family:
    name: str  # the exposed sample name (counters end in _total, info in _info)
    kind: str  # "gauge" | "counter" | "info"
    doc: str
    labels: tuple[str, ...]


Samples = dict[Family, list[tuple[tuple[str, ...], float]]]

_DOM = ("domain", "server_id")
_BLK = (*_DOM, "target_device")
_NET = (*_DOM, "device")

LIBVIRT_UP = Family(
    "libvirt_up", "gauge", "Whether the last libvirt stats read succeeded (1) or not (0).", ()
)
STATS_AGE = Family(
    "dcloud_agent_stats_age_seconds",
    "gauge",
    "Seconds since this stats group was last read from libvirt (slow groups are reused up to a max age).",
    ("group",),
)
INFO = Family("libvirt_domain_info", "info", "Domain metadata.", (*_DOM, "uuid"))
STATE = Family(
    "libvirt_domain_info_state", "gauge", "virDomainState (1 running, 3 paused, 5 shut off).", _DOM
)
CPU = Family("libvirt_domain_info_cpu_time_seconds_total", "counter", "CPU time used by the domain.", _DOM)
VCPUS = Family("libvirt_domain_info_vcpus", "gauge", "Number of virtual CPUs online.", _DOM)
MEMORY = Family("libvirt_domain_info_memory_bytes", "gauge", "Memory currently assigned to the domain.", _DOM)
# (family, stats field) per block device and per interface
BLOCK_FIELDS = (
    (Family("libvirt_domain_block_stats_read_bytes_total", "counter", "Bytes read.", _BLK), "rd.bytes"),
    (Family("libvirt_domain_block_stats_write_bytes_total", "counter", "Bytes written.", _BLK), "wr.bytes"),
    (Family("libvirt_domain_block_stats_read_requests_total", "counter", "Reads.", _BLK), "rd.reqs"),
    (Family("libvirt_domain_block_stats_write_requests_total", "counter", "Writes.", _BLK), "wr.reqs"),
)
NET_FIELDS = (
    (
        Family("libvirt_domain_interface_stats_receive_bytes_total", "counter", "Bytes received.", _NET),
        "rx.bytes",
    ),
    (
        Family("libvirt_domain_interface_stats_transmit_bytes_total", "counter", "Bytes sent.", _NET),
        "tx.bytes",
    ),
)
FAMILIES = (
    LIBVIRT_UP,
    STATS_AGE,
    INFO,
    STATE,
    CPU,
    VCPUS,
    MEMORY,
    *(f for f, _ in BLOCK_FIELDS),
    *(f for f, _ in NET_FIELDS),
)


def extract_samples(records: Iterable[DomainStats], server_id_of: Callable[[str], str]) -> Samples:
    """Per-family samples from one getAllDomainStats answer, in FAMILIES order."""
    samples: Samples = {family: [] for family in FAMILIES}
    for dom, stats in records:
        try:
            _add_domain(samples, dom, stats, server_id_of)
        except (libvirt.libvirtError, KeyError, TypeError, ValueError) as exc:
            # One odd record must not cost the other domains their series.
            log.warning("skipping stats of one domain: %s", exc)
    return samples


def _add_domain(
    samples: Samples, dom: libvirt.virDomain, stats: dict[str, Any], server_id_of: Callable[[str], str]
) -> None:
    name = dom.name()  # name/UUID are cached in the handle: no extra RPC per domain
    server_id = server_id_of(name)
    if not server_id:
        return  # a domain dcloud does not own is not ours to expose (reported as an orphan instead)
    labels = (name, server_id)
    samples[INFO].append(((*labels, dom.UUIDString()), 1.0))
    if "state.state" in stats:
        samples[STATE].append((labels, stats["state.state"]))
    if "cpu.time" in stats:
        samples[CPU].append((labels, stats["cpu.time"] / 1e9))  # nanoseconds
    if "vcpu.current" in stats:
        samples[VCPUS].append((labels, stats["vcpu.current"]))
    memory_kib = stats.get("balloon.current", stats.get("balloon.maximum"))
    if memory_kib is not None:
        samples[MEMORY].append((labels, memory_kib * 1024))
    _add_devices(samples, labels, stats, "block", BLOCK_FIELDS)
    _add_devices(samples, labels, stats, "net", NET_FIELDS)


def _add_devices(
    samples: Samples,
    labels: tuple[str, str],
    stats: dict[str, Any],
    group: str,
    fields: tuple[tuple[Family, str], ...],
) -> None:
    for i in range(int(stats.get(f"{group}.count", 0))):
        key = f"{group}.{i}."
        device = (*labels, str(stats.get(key + "name", i)))
        for family, field in fields:
            if key + field in stats:
                samples[family].append((device, stats[key + field]))


def to_metric_families(samples: Samples) -> Iterator[Metric]:
    """prometheus_client families (for registries and get_sample_value); empty families are omitted."""
    for family, rows in samples.items():
        if not rows:
            continue
        if family.kind == "info":
            info = InfoMetricFamily(family.name.removesuffix("_info"), family.doc, labels=family.labels[:-1])
            for values, _one in rows:
                info.add_metric(list(values[:-1]), {family.labels[-1]: values[-1]})
            yield info
            continue
        cls = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
        metric = cls(family.name, family.doc, labels=list(family.labels))
        for values, value in rows:
            metric.add_metric(list(values), float(value))
        yield metric


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _number(value: float) -> str:
    if type(value) is int:  # counters and states arrive as ints: str() is exact and cheapest
        return str(value)
    value = float(value)
    if math.isfinite(value):
        return repr(value)
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def render_text(samples: Samples) -> str:
    """The text exposition format 0.0.4 for `samples`; empty families are omitted."""
    out: list[str] = []
    # Every domain's (domain, server_id) pair is escaped once and reused by each of its series.
    domain_labels: dict[tuple[str, ...], str] = {}
    for family, rows in samples.items():
        if not rows:
            continue
        kind = "gauge" if family.kind == "info" else family.kind  # 0.0.4 has no info type
        out.append(f"# HELP {family.name} {family.doc}\n# TYPE {family.name} {kind}\n")
        if not family.labels:
            out.extend(f"{family.name} {_number(value)}\n" for _values, value in rows)
            continue
        if family.labels[:2] != _DOM:  # a host-level family (the stats age): label it as it stands
            for values, value in rows:
                pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(family.labels, values, strict=True))
                out.append(f"{family.name}{{{pairs}}} {_number(value)}\n")
            continue
        extra_keys = family.labels[2:]
        for values, value in rows:
            head = values[:2]
            labels = domain_labels.get(head)
            if labels is None:
                labels = domain_labels[head] = f'domain="{_escape(head[0])}",server_id="{_escape(head[1])}"'
            for key, extra in zip(extra_keys, values[2:], strict=True):
                labels += f',{key}="{_escape(extra)}"'
            out.append(f"{family.name}{{{labels}}} {_number(value)}\n")
    return "".join(out)


class _Others:
    """Further collectors, each family exposed once and never one the libvirt renderer already wrote."""

    def __init__(self, sources: list[Collector | None]) -> None:
        self._sources = [source for source in sources if source is not None]
        # prometheus_client names counter families without _total and info families without _info.
        self._skip = {f.name.removesuffix("_total").removesuffix("_info") for f in FAMILIES}
        self._skip |= {f.name for f in FAMILIES}

    def collect(self) -> Iterator[Metric]:
        seen = set(self._skip)
        for source in self._sources:
            for metric in source.collect():
                if metric.name not in seen:
                    seen.add(metric.name)
                    yield metric


class TextRenderer(Protocol):
    def render_text(self) -> str: ...

    def already_rendered(self) -> AbstractContextManager[None]: ...


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # one line per scrape is noise
        pass


def serve_metrics(
    port: int, addr: str, libvirt_renderer: TextRenderer, others: list[Collector | None]
) -> WSGIServer:
    """A threaded HTTP server answering GET /metrics (and /) with libvirt series, then the others."""
    rest = _Others(others)

    def render() -> bytes:
        text = libvirt_renderer.render_text().encode()
        # If the renderer is also registered among the others, it must not read libvirt a second time.
        with libvirt_renderer.already_rendered():
            return text + generate_latest(rest)  # type: ignore[arg-type]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found; try /metrics\n"]
        body = render()
        headers = [("Content-Type", CONTENT_TYPE)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            # Level 1: most of the size win for a fraction of the default level's CPU.
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [body]

    server = make_server(addr, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="dcloud-metrics", daemon=True).start()
    return server
