"""The WHOIS server as clients see it: the Debian `whois` client, and hostile raw sockets."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from controlplane.config import Settings
from network.metrics import WhoisCounters
from network.whois_server import RateLimiter, WhoisLimits, parse_query, run_whois_server, source_of
from tests.network.hostile import HOSTILE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(engine: Engine, limits: WhoisLimits, registry: CollectorRegistry | None = None) -> Iterator[int]:
    """A server on a free port, counting into its own counters (exposed by `registry` when given)."""
    port, stop, ready = _free_port(), threading.Event(), threading.Event()
    thread = threading.Thread(
        target=run_whois_server,
        args=(Settings(whois_port=port), stop),
        kwargs={"engine": engine, "limits": limits, "ready": ready, "counters": WhoisCounters(registry)},
        daemon=True,
    )
    thread.start()
    assert ready.wait(10), "whois server did not start"
    try:
        yield port
    finally:
        stop.set()
        thread.join(10)


@pytest.fixture
def registry() -> CollectorRegistry:
    """Where the WHOIS server of the test exposes its counters."""
    return CollectorRegistry()


@pytest.fixture
def whois_port(
    sqlite_engine: Engine, two_holders: dict[str, str], registry: CollectorRegistry
) -> Iterator[int]:
    yield from _start(sqlite_engine, WhoisLimits(read_timeout_s=0.5, burst=1000), registry)


def _whois(port: int, query: str) -> str:
    done = subprocess.run(
        ["whois", "-h", "127.0.0.1", "-p", str(port), query], capture_output=True, timeout=20, check=False
    )
    return done.stdout.decode("utf-8")


def _raw(port: int, payload: bytes, *, pause: float = 0.0, source: str = "127.0.0.1") -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        if pause:
            time.sleep(pause)
        if payload:
            sock.sendall(payload)
        return _read_to_end(sock)


def _read_to_end(sock: socket.socket) -> str:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_debian_whois_client_reads_a_customer_record(whois_port: int, two_holders: dict[str, str]) -> None:
    out = _whois(whois_port, two_holders["public"])
    assert "# KOREAN(UTF8)" in out and "# ENGLISH" in out
    assert f"{two_holders['public']} - {two_holders['public']} (/32)" in out
    assert "주식회사 예시클라우드" in out and "Example Cloud Co., Ltd." in out
    assert "CUSTOMER" in out and "06133" in out and "20270301" in out
    assert "김담당" in out and "+82-2-555-0100" in out and "netadmin@example.kr" in out


def test_hidden_customer_shows_label_district_and_the_role_contact(
    whois_port: int, two_holders: dict[str, str]
) -> None:
    out = _whois(whois_port, two_holders["private"])
    assert "홍길동" not in out and "Hong Gildong" not in out and "010-9999-0000" not in out
    assert "개인 또는 비공개 고객" in out and "Private customer of D-Cloud" in out
    assert "경기도 성남시 분당구" in out
    assert "IP주소 담당자" in out and "+82-2-0000-0043" in out
    assert "Art. 24(6)" in out


def test_unknown_address_is_a_clear_no_match(whois_port: int) -> None:
    out = _whois(whois_port, "203.0.113.50")
    assert "No match for 203.0.113.50" in out


def test_the_server_counts_what_it_answered(
    whois_port: int, two_holders: dict[str, str], registry: CollectorRegistry
) -> None:
    for query in (two_holders["public"], two_holders["private"], "203.0.113.50"):
        _raw(whois_port, f"{query}\r\n".encode())
    assert registry.get_sample_value("dcloud_whois_queries_total", {"result": "match"}) == 2
    assert registry.get_sample_value("dcloud_whois_queries_total", {"result": "no_match"}) == 1


def test_cidr_query_inside_a_pool_answers_with_the_pool(whois_port: int) -> None:
    out = _whois(whois_port, "192.0.2.0/24")
    assert "192.0.2.0 - 192.0.2.255 (/24)" in out and "ISP" in out


@pytest.mark.parametrize(
    ("payload", "expected", "reason"),
    [
        (b"x" * 300 + b"\r\n", "longer than 256 bytes", "oversize"),
        (b"\x00\x01\xff\xfe\r\n", "printable ASCII", "binary"),
        (b"192.0.2.2\r\nDROP TABLE\r\n", "exactly one query line", "crlf_injection"),
        (b"192.0.2.2\rinjected\r\n", "exactly one query line", "crlf_injection"),
        (b"not an address\r\n", "is not an IP address or CIDR", "malformed"),
        (b"\r\n", "empty query", "empty"),
    ],
)
def test_garbage_gets_one_error_line_never_a_traceback(
    whois_port: int, registry: CollectorRegistry, payload: bytes, expected: str, reason: str
) -> None:
    out = _raw(whois_port, payload)
    assert out.startswith("% Error:") and expected in out
    assert out.count("\n") == 1 and "Traceback" not in out
    assert registry.get_sample_value("dcloud_whois_refusals_total", {"reason": reason}) == 1
    assert registry.get_sample_value("dcloud_whois_queries_total", {"result": "match"}) is None


def test_silent_client_is_cut_off_after_the_read_timeout(whois_port: int) -> None:
    started = time.monotonic()
    out = _raw(whois_port, b"")
    assert "no query within" in out and time.monotonic() - started < 5


def test_rate_limit_per_source(
    sqlite_engine: Engine, two_holders: dict[str, str], registry: CollectorRegistry
) -> None:
    for port in _start(sqlite_engine, WhoisLimits(burst=3, per_second=0.01), registry):
        answers = [_raw(port, b"203.0.113.1\r\n") for _ in range(5)]
    assert ["No match" in a for a in answers] == [True, True, True, False, False]
    assert "too many queries" in answers[-1]
    assert registry.get_sample_value("dcloud_whois_refusals_total", {"reason": "rate_limited"}) == 2
    assert registry.get_sample_value("dcloud_whois_queries_total", {"result": "no_match"}) == 3


def test_connection_cap(sqlite_engine: Engine, two_holders: dict[str, str]) -> None:
    for port in _start(sqlite_engine, WhoisLimits(max_connections=2, read_timeout_s=2, burst=100)):
        holders = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            time.sleep(0.2)  # let the server accept both idle connections
            out = _raw(port, b"192.0.2.2\r\n")
        finally:
            for sock in holders:
                sock.close()
    assert "too many connections" in out


def test_one_source_over_its_cap_does_not_lock_out_another_source(
    sqlite_engine: Engine, two_holders: dict[str, str], registry: CollectorRegistry
) -> None:
    def refused(reason: str) -> float | None:
        return registry.get_sample_value("dcloud_whois_refusals_total", {"reason": reason})

    limits = WhoisLimits(max_connections=4, max_per_source=2, read_timeout_s=3, burst=100)
    for port in _start(sqlite_engine, limits, registry):
        # More idle sockets from 127.0.0.1 than the global cap: only its own two may hold a slot.
        flood = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(6)]
        try:
            _wait_until(lambda: refused("source_busy") == 4)
            out = _raw(port, f"{two_holders['public']}\r\n".encode(), source="127.0.0.2")
            flooder_sees = _read_to_end(flood[-1])
        finally:
            for sock in flood:
                sock.close()
    assert "Example Cloud Co., Ltd." in out
    assert flooder_sees == "% Error: too many connections from your address, try again later\r\n"
    assert refused("source_busy") == 4 and refused("busy") is None
    assert registry.get_sample_value("dcloud_whois_queries_total", {"result": "match"}) == 1


def test_an_over_long_line_gets_the_error_line_not_a_reset(
    whois_port: int, registry: CollectorRegistry
) -> None:
    out = _raw(whois_port, b"1" * 256 * 1024 + b"\r\n")  # far past what one read of the server takes
    assert out == "% Error: query longer than 256 bytes\r\n"
    assert registry.get_sample_value("dcloud_whois_refusals_total", {"reason": "oversize"}) == 1


def test_a_customer_field_cannot_forge_a_whois_line(whois_port: int, hostile_holder: str) -> None:
    out = _raw(whois_port, f"{hostile_holder}\r\n".encode())
    assert "Organization Name  : name_en\\u000d\\u000afake-key: value\\u001b[2J" in out
    assert not any(line.lstrip().startswith("fake-key") for line in out.splitlines())
    assert "\r" not in out.replace("\r\n", "") and "\n" not in out.replace("\r\n", "")
    for ch in HOSTILE:
        if not ch.isprintable() and ch not in "\r\n":
            assert ch not in out, f"U+{ord(ch):04X} reached the client raw"


def test_an_ipv6_64_counts_as_one_source() -> None:
    assert source_of(("2001:db8:1:2::1", 43, 0, 0)) == "2001:db8:1:2::/64"
    assert source_of(("2001:db8:1:2:ffff::9", 43, 0, 0)) == "2001:db8:1:2::/64"
    assert source_of(("::ffff:192.0.2.7", 43, 0, 0)) == "192.0.2.7"  # IPv4 through a dual-stack socket
    assert source_of(("192.0.2.7", 43)) == "192.0.2.7"


def test_parse_query_accepts_a_bare_lf_and_ipv6() -> None:
    assert parse_query(b"2001:db8::1\n", 256) == "2001:db8::1"


def test_rate_limiter_refills_over_time() -> None:
    limiter = RateLimiter(burst=1, per_second=1.0)
    assert limiter.allow("a", now=0.0) and not limiter.allow("a", now=0.5) and limiter.allow("a", now=1.6)
    assert limiter.allow("b", now=0.5)  # per source
