"""The WHOIS server (RFC 3912): one query line (an address or a CIDR) ending CRLF, the answer, close.

Hardened for the open internet: the query is at most 256 bytes and must arrive within 5 s, each source
(an IPv4 address, an IPv6 /64) has its own cap on concurrent connections and a rate limit, checked before
the global cap so one source's flood cannot take every slot, and anything odd (oversize, binary, a second
line smuggled after the first) gets a one-line error, never a traceback or a connection reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.errors import InvalidInput
from network.identity import OperatorIdentity, get_identity
from network.metrics import WHOIS, WhoisCounters
from network.registry import lookup
from network.whois_format import format_error, format_no_match, format_record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WhoisLimits:
    max_query_bytes: int = 256
    read_timeout_s: float = 5.0
    max_connections: int = 64
    # A client asks one query per connection; more at once from one source is a flood, not a client.
    max_per_source: int = 4
    # Token bucket per source address: `burst` queries at once, refilled at `per_second`.
    burst: int = 20
    per_second: float = 1.0


class QueryRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class RateLimiter:
    """Per-source token buckets; idle sources are forgotten so the table cannot grow without bound."""

    def __init__(self, burst: int, per_second: float) -> None:
        self.burst, self.per_second = burst, per_second
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, source: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(source, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        if len(self._buckets) > 10_000:
            self._forget_idle(now)
        if tokens < 1.0:
            self._buckets[source] = (tokens, now)
            return False
        self._buckets[source] = (tokens - 1.0, now)
        return True

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.per_second
        self._buckets = {s: v for s, v in self._buckets.items() if now - v[1] < full_after}


def source_of(peername: object) -> str:
    """Who a connection counts against: the IPv4 address, or the IPv6 /64 (one customer holds a whole
    /64, so per-address limits would not limit it at all)."""
    host = str(peername[0]) if isinstance(peername, tuple) and peername else "?"
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def could_still_be_a_query(buf: bytes, max_bytes: int) -> bool:
    """Whether more bytes could still make `buf` one valid line (at most `max_bytes`, an optional CR,
    then LF). Once not, the server answers at once: a client that sent 257 bytes and waits must get
    the oversize line, not the read timeout."""
    if b"\n" in buf:
        return False
    return len(buf) <= max_bytes or (len(buf) == max_bytes + 1 and buf.endswith(b"\r"))


def parse_query(raw: bytes, max_bytes: int) -> str:
    """The query text from the raw bytes read, or QueryRefused naming why."""
    line, sep, rest = raw.partition(b"\n")
    if len(line) > max_bytes + 1 or (not sep and len(raw) > max_bytes):
        raise QueryRefused("oversize", f"query longer than {max_bytes} bytes")
    if not sep:
        raise QueryRefused("incomplete", "query must end with CRLF")
    if rest.strip(b"\r\n\t ") or b"\r" in line.rstrip(b"\r"):
        raise QueryRefused("crlf_injection", "exactly one query line is allowed")
    try:
        text = line.rstrip(b"\r").decode("ascii").strip()
    except UnicodeDecodeError:
        raise QueryRefused("binary", "query must be printable ASCII") from None
    if any(not ch.isprintable() for ch in text):
        raise QueryRefused("binary", "query must be printable ASCII")
    if not text:
        raise QueryRefused("empty", "empty query; send an IP address or a CIDR")
    return text


class WhoisService:
    def __init__(
        self,
        engine: Engine,
        identity: OperatorIdentity,
        limits: WhoisLimits,
        counters: WhoisCounters = WHOIS,
    ) -> None:
        self.engine, self.identity, self.limits, self.counters = engine, identity, limits, counters
        self.rate = RateLimiter(limits.burst, limits.per_second)
        self.active = 0  # admitted connections, all sources
        self.active_by_source: dict[str, int] = {}

    def answer(self, query: str) -> str:
        """The text for a valid query line: the record, or a clear no-match."""
        try:
            with Session(self.engine) as session:
                record = lookup(session, query, self.identity)
        except InvalidInput:
            self.counters.refusals.labels(reason="malformed").inc()
            return format_error(f"{query[:64]!r} is not an IP address or CIDR")
        self.counters.queries.labels(result="match" if record else "no_match").inc()
        if record is None:
            return format_no_match(query)
        return format_record(record, query, self.identity)

    async def _read_query(self, reader: asyncio.StreamReader) -> bytes:
        buf = b""
        while could_still_be_a_query(buf, self.limits.max_query_bytes):
            chunk = await reader.read(self.limits.max_query_bytes + 2 - len(buf))
            if not chunk:
                break
            buf += chunk
        return buf

    def _admit(self, source: str) -> None:
        """Takes a slot for the connection, or QueryRefused. The source's own limits come first: a
        source over them is refused without touching the global count, so it cannot lock others out."""
        if self.active_by_source.get(source, 0) >= self.limits.max_per_source:
            raise QueryRefused("source_busy", "too many connections from your address, try again later")
        if not self.rate.allow(source):
            raise QueryRefused("rate_limited", "too many queries from your address, slow down")
        if self.active >= self.limits.max_connections:
            raise QueryRefused("busy", "too many connections, try again later")
        self.active += 1
        self.active_by_source[source] = self.active_by_source.get(source, 0) + 1

    def _release(self, source: str) -> None:
        self.active -= 1
        left = self.active_by_source.pop(source) - 1
        if left:  # forget idle sources so the table holds only sources with open connections
            self.active_by_source[source] = left

    async def _respond(self, reader: asyncio.StreamReader) -> str:
        try:
            raw = await asyncio.wait_for(self._read_query(reader), self.limits.read_timeout_s)
        except TimeoutError:
            raise QueryRefused("timeout", f"no query within {self.limits.read_timeout_s:g} s") from None
        query = parse_query(raw, self.limits.max_query_bytes)
        return await asyncio.to_thread(self.answer, query)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = source_of(writer.get_extra_info("peername"))
        admitted = discard_rest = False
        try:
            try:
                self._admit(source)
                admitted = True
                text = await self._respond(reader)
            except QueryRefused as refused:
                self.counters.refusals.labels(reason=refused.reason).inc()
                text = format_error(refused.message)
                discard_rest = True
            except Exception:  # the client gets one line; the operator gets the traceback in the log
                log.exception("whois query from %s failed", source)
                self.counters.refusals.labels(reason="internal").inc()
                text = format_error("internal error")
            writer.write(text.encode("utf-8"))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            if discard_rest:
                await _end_then_discard(reader, writer)
        finally:
            if admitted:
                self._release(source)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


# How much a refused client may still send (an over-long line's tail, a second line) before we close.
_DISCARD_BYTES = 1 << 20
_DISCARD_S = 1.0


async def _end_then_discard(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Sends our FIN after the error line, then reads and drops what the client still sends (bounded):
    closing with unread bytes sends a TCP RST, and the client would see "connection reset" instead of
    our error line."""
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()
    discarded = 0
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(_DISCARD_S):
            while discarded < _DISCARD_BYTES and (chunk := await reader.read(65536)):
                discarded += len(chunk)


async def serve(
    service: WhoisService,
    bind: str,
    port: int,
    stop_event: threading.Event | None,
    ready: threading.Event | None = None,
) -> None:
    server = await asyncio.start_server(service.handle, bind, port, reuse_address=True)
    log.info("whois server listening on %s:%d", bind, port)
    if ready is not None:
        ready.set()
    try:
        while stop_event is None or not stop_event.is_set():
            await asyncio.sleep(0.1)
    finally:
        server.close()
        await server.wait_closed()


def run_whois_server(
    settings: Settings,
    stop_event: threading.Event | None = None,
    *,
    bind: str | None = None,
    port: int | None = None,
    engine: Engine | None = None,
    identity: OperatorIdentity | None = None,
    limits: WhoisLimits | None = None,
    ready: threading.Event | None = None,
    counters: WhoisCounters = WHOIS,
) -> None:
    """Serves WHOIS until `stop_event` is set (or forever); blocking, so callers run it in a thread."""
    own_engine = engine is None
    engine = engine or make_engine(settings.database_url)
    service = WhoisService(engine, identity or get_identity(), limits or WhoisLimits(), counters)
    try:
        asyncio.run(
            serve(
                service,
                bind or settings.whois_bind,
                port if port is not None else settings.whois_port,
                stop_event,
                ready,
            )
        )
    finally:
        if own_engine:
            engine.dispose()
