"""The desired-state watch (long poll): answers at once on a stale version, waits out an unchanged one,
and wakes within a fraction of a second when an order lands during the wait."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.utils.api import Api

WATCH = "/v1/hosts/hv1/desired-state/watch"


def _current_version(api: Api) -> str:
    response = api.call("GET", "/v1/hosts/hv1/desired-state", role="agent:hv1")
    assert response.status_code == 200, response.text
    return str(response.headers["X-Desired-Version"])


def _watch(api: Api, since: str, wait_s: float, role: str | None = "agent:hv1") -> tuple[Any, float]:
    started = time.monotonic()
    response = api.call("GET", WATCH, role=role, params={"since": since, "wait_s": wait_s})
    return response, time.monotonic() - started


def test_a_stale_version_is_answered_at_once_with_the_current_one(api: Api) -> None:
    api.add_host("hv1")
    old = _current_version(api)
    api.add_server("web", host="hv1")
    response, elapsed = _watch(api, old, 30)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == _current_version(api) != old
    assert elapsed < 2


def test_an_unchanged_version_waits_then_returns_the_same_version(api: Api) -> None:
    api.add_host("hv1")
    api.add_server("web", host="hv1")
    current = _current_version(api)
    response, elapsed = _watch(api, current, 0.6)
    assert response.status_code == 200, response.text
    assert response.json() == {"version": current}
    assert 0.55 <= elapsed < 5


def test_an_order_during_the_wait_is_answered_promptly(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server("web", host="hv1")
    current = _current_version(api)
    result: dict[str, Any] = {}

    def watch() -> None:
        result["response"], _ = _watch(api, current, 20)
        result["answered_at"] = time.monotonic()

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(0.5)  # the watch is waiting by now
    ordered_at = time.monotonic()
    assert api.call("POST", f"/v1/servers/{server['id']}/suspend", role="operator").status_code == 200
    watcher.join(timeout=25)
    assert result["response"].status_code == 200
    assert result["response"].json()["version"] == _current_version(api) != current
    # One check interval (0.1 s) plus a loaded machine's scheduling; far below the 20 s wait.
    assert result["answered_at"] - ordered_at < 2


def test_the_watch_needs_a_token(api: Api) -> None:
    api.add_host("hv1")
    response, _ = _watch(api, "", 0, role=None)
    assert response.status_code == 401


def test_another_hosts_agent_may_not_watch(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("hv2")
    response, _ = _watch(api, "", 0, role="agent:hv2")
    assert response.status_code == 403
    assert response.json()["field"] == "host"


def test_an_admin_may_watch_any_host(api: Api) -> None:
    api.add_host("hv1")
    response, _ = _watch(api, "", 0, role="admin")
    assert response.status_code == 200
    assert response.json()["version"] == _current_version(api)


@pytest.mark.parametrize("wait_s", ["-1", "60.5", "soon"])
def test_a_bad_wait_is_rejected_naming_the_field(api: Api, wait_s: str) -> None:
    api.add_host("hv1")
    response = api.call("GET", WATCH, role="agent:hv1", params={"since": "", "wait_s": wait_s})
    assert response.status_code == 422
    assert response.json()["field"] == "wait_s"
