"""Property tests of the WHOIS query parser and of what the server sends back (hypothesis).

Whatever bytes a client sends, the parser returns a query or refuses it with QueryRefused (nothing
else escapes), the text that goes back has no raw control or bidi character on any line, and a line
longer than the limit gets the one error line, not a reset.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from network.identity import get_identity
from network.metrics import WhoisCounters
from network.whois_format import format_error
from network.whois_server import QueryRefused, WhoisLimits, WhoisService, parse_query
from tests.network.hostile import HOSTILE
from tests.network.test_whois import _read_to_end, _start

MAX = WhoisLimits().max_query_bytes
FIXTURES = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# What a client may send: anything at all, and lines built around the addresses and CIDRs a real
# query names, with hostile characters, long padding and smuggled second lines mixed in.
_address = st.sampled_from(["192.0.2.2", "198.51.100.2", "203.0.113.50", "2001:db8::1", "192.0.2.0/24"])
_noise = st.one_of(
    st.text(max_size=20),
    st.sampled_from([HOSTILE, "\x00", "\x1b[2J", "\u202e", "\r", "\r\n", "\n\n", "\x85", "%", " " * 300]),
)
queries = st.one_of(
    st.binary(max_size=600),
    st.builds(lambda a, n, m: f"{n}{a}{m}\r\n".encode("utf-8", "surrogatepass"), _address, _noise, _noise),
    st.builds(lambda a: f"{a}\r\n".encode(), _address),
    st.builds(lambda n: b"1" * n + b"\r\n", st.integers(MAX - 2, MAX + 3)),
)


def _refusal_or_query(raw: bytes) -> str | QueryRefused:
    try:
        return parse_query(raw, MAX)
    except QueryRefused as refused:
        return refused


def _clean_lines(text: str) -> None:
    assert text.endswith("\r\n")
    for line in text[:-2].split("\r\n"):
        assert line.isprintable(), f"raw control or bidi character in {line!r}"


@settings(deadline=None, max_examples=500)
@given(raw=queries)
def test_the_parser_returns_one_printable_line_or_refuses_with_its_own_error(raw: bytes) -> None:
    result = _refusal_or_query(raw)  # any other exception fails the test
    if isinstance(result, QueryRefused):
        assert result.reason and result.message.isprintable()
        return
    assert result and result.isascii() and result.isprintable() and len(result) <= MAX
    assert result == result.strip()


@settings(deadline=None, max_examples=200)
@given(
    line=st.binary(min_size=MAX + 2, max_size=64 * 1024).filter(lambda b: b"\n" not in b[: MAX + 2]),
    ending=st.sampled_from([b"", b"\n", b"\r\n"]),
)
def test_a_line_longer_than_the_limit_is_refused_as_oversize(line: bytes, ending: bytes) -> None:
    # What the server has read when the line runs past the limit: at most MAX + 3 bytes of it.
    result = _refusal_or_query((line + ending)[: MAX + 3])
    assert isinstance(result, QueryRefused) and result.reason == "oversize", result


@pytest.fixture
def service(sqlite_engine: Engine, two_holders: dict[str, str], hostile_holder: str) -> WhoisService:
    return WhoisService(sqlite_engine, get_identity(), WhoisLimits(), WhoisCounters(None))


@settings(FIXTURES, max_examples=150)
@given(raw=queries)
def test_every_answer_is_lines_without_a_raw_control_character(service: WhoisService, raw: bytes) -> None:
    result = _refusal_or_query(raw)
    text = format_error(result.message) if isinstance(result, QueryRefused) else service.answer(result)
    _clean_lines(text)


@pytest.fixture
def whois_port(sqlite_engine: Engine) -> Iterator[int]:
    yield from _start(sqlite_engine, WhoisLimits(read_timeout_s=0.5, burst=10_000, per_second=1000.0))


@settings(FIXTURES, max_examples=25)
@given(
    size=st.integers(MAX + 1, 512 * 1024),
    byte=st.sampled_from([b"1", b"a", b"\x00", b"\xff", b" "]),
    ending=st.sampled_from([b"", b"\r\n"]),
)
def test_an_over_long_line_of_any_size_gets_the_error_line_not_a_reset(
    whois_port: int, size: int, byte: bytes, ending: bytes
) -> None:
    # The client waits for the answer without closing: the server must answer without the timeout.
    with socket.create_connection(("127.0.0.1", whois_port), timeout=10) as sock:
        sock.sendall(byte * size + ending)
        assert _read_to_end(sock) == f"% Error: query longer than {MAX} bytes\r\n"
