"""ControlPlaneClient over real HTTP (a local stdlib server): routes, bearer token, retries, 4xx/404."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.client import ControlPlaneClient, ControlPlaneRejected, ControlPlaneUnavailable
from controlplane.protocol import DesiredServer, Heartbeat, HostDesiredState, HostObservedState

SERVER = DesiredServer(
    id="dctest-s1", name="s1", vcpus=1, memory_mib=64, disk_gib=1, desired_state="running", generation=3
)


class FakeControlPlane(BaseHTTPRequestHandler):
    """Answers the agent routes; `failures` makes the next N requests fail with 503."""

    failures = 0
    seen: list[tuple[str, str, str | None, bytes]] = []

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).seen.append((self.command, self.path, self.headers.get("Authorization"), body))
        if type(self).failures > 0:
            type(self).failures -= 1
            return self._answer(503, b'{"detail": "try later"}')
        if self.headers.get("Authorization") != "Bearer s3cret":
            return self._answer(401, b'{"detail": "no token"}')
        routes = {
            ("GET", "/v1/hosts/h%201/desired-state"): (
                200,
                HostDesiredState(host="h 1", servers=[SERVER]).model_dump_json().encode(),
            ),
            ("GET", "/v1/hosts/h%201/servers/dctest-s1/desired-state"): (
                200,
                SERVER.model_dump_json().encode(),
            ),
            ("POST", "/v1/hosts/h%201/observed-state"): (204, b""),
            ("POST", "/v1/hosts/h%201/heartbeat"): (200, b"{}"),
        }
        status, payload = routes.get((self.command, self.path), (404, b'{"detail": "not found"}'))
        return self._answer(status, payload)

    do_GET = _handle
    do_POST = _handle

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def api_url() -> Iterator[str]:
    FakeControlPlane.failures = 0
    FakeControlPlane.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeControlPlane)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_reads_and_reports_on_the_protocol_routes_with_the_bearer_token(api_url) -> None:
    client = ControlPlaneClient(api_url, "s3cret", "h 1", backoff_s=0.01)

    assert client.desired().servers == [SERVER]
    assert client.desired_one("dctest-s1") == SERVER
    client.report(HostObservedState())
    client.heartbeat(Heartbeat(libvirt_uri="test:///default", libvirt_connected=True))

    assert {auth for _m, _p, auth, _b in FakeControlPlane.seen} == {"Bearer s3cret"}
    (report_body,) = [b for m, p, _a, b in FakeControlPlane.seen if p.endswith("/observed-state")]
    assert json.loads(report_body)["full"] is True


def test_unknown_server_is_none(api_url) -> None:
    client = ControlPlaneClient(api_url, "s3cret", "h 1", backoff_s=0.01)
    assert client.desired_one("dctest-gone") is None


def test_retries_5xx_with_backoff_then_succeeds(api_url) -> None:
    FakeControlPlane.failures = 2
    client = ControlPlaneClient(api_url, "s3cret", "h 1", attempts=3, backoff_s=0.01)
    assert client.desired().host == "h 1"
    assert len(FakeControlPlane.seen) == 3


def test_gives_up_after_the_last_attempt(api_url, caplog: pytest.LogCaptureFixture) -> None:
    FakeControlPlane.failures = 5
    client = ControlPlaneClient(api_url, "s3cret", "h 1", attempts=3, backoff_s=0.01)
    with caplog.at_level(logging.DEBUG), pytest.raises(ControlPlaneUnavailable) as info:
        client.desired()
    assert len(FakeControlPlane.seen) == 3
    assert "HTTP 503 (after 3 attempts)" in str(info.value)
    # Raised, not also logged: the caller logs it once, with what it was doing.
    assert [r for r in caplog.records if r.name.startswith("agents")] == []


def test_4xx_is_final_and_not_retried(api_url) -> None:
    client = ControlPlaneClient(api_url, "wrong", "h 1", attempts=3, backoff_s=0.01)
    with pytest.raises(ControlPlaneRejected) as info:
        client.desired()
    assert info.value.status_code == 401
    assert len(FakeControlPlane.seen) == 1


def test_unreachable_control_plane_is_unavailable() -> None:
    client = ControlPlaneClient("http://127.0.0.1:9", "s3cret", "h 1", attempts=2, backoff_s=0.01)
    with pytest.raises(ControlPlaneUnavailable):
        client.desired_one("dctest-s1")
