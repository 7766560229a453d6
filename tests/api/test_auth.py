"""Each role against each route family: no token 401, wrong role 403, the right role 2xx."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.utils.api import Api

_counter = itertools.count()

CALLERS = ["admin", "operator", "billing", "auditor", "disclosure", "agent:hv1", "agent:hv2"]


def _host_body() -> dict[str, Any]:
    return {
        "name": f"new{next(_counter)}",
        "libvirt_uri": "qemu:///system",
        "vcpus": 4,
        "memory_mib": 4096,
        "disk_gib": 100,
    }


def _server_body() -> dict[str, Any]:
    return {"name": "s", "vcpus": 1, "memory_mib": 64, "disk_gib": 1}


BEAT = {"libvirt_uri": "qemu:///system", "libvirt_connected": True}

# (family, method, path, body factory, roles that may call it)
ROUTES: list[tuple[str, str, str, Any, set[str]]] = [
    ("hosts", "GET", "/v1/hosts", None, {"admin", "operator", "auditor"}),
    ("hosts", "POST", "/v1/hosts", _host_body, {"admin", "operator"}),
    ("hosts", "PATCH", "/v1/hosts/hv1", lambda: {"admin_state": "active"}, {"admin", "operator"}),
    ("hosts", "GET", "/v1/hosts/hv1/orphans", None, {"admin", "operator", "auditor"}),
    ("servers", "GET", "/v1/servers", None, {"admin", "operator", "auditor", "billing"}),
    ("servers", "POST", "/v1/servers", _server_body, {"admin", "operator"}),
    ("tokens", "GET", "/v1/tokens", None, {"admin"}),
    ("tokens", "POST", "/v1/tokens", lambda: {"role": "auditor", "name": "x"}, {"admin"}),
    ("audit", "GET", "/v1/audit", None, {"admin", "auditor"}),
    ("agent", "GET", "/v1/hosts/hv1/desired-state", None, {"admin", "operator", "agent:hv1"}),
    ("agent", "POST", "/v1/hosts/hv1/heartbeat", lambda: BEAT, {"admin", "agent:hv1"}),
    ("agent", "POST", "/v1/hosts/hv1/observed-state", lambda: {"servers": []}, {"admin", "agent:hv1"}),
]


@pytest.fixture
def two_hosts(api: Api) -> Api:
    api.add_host("hv1", vcpus=64, memory_mib=1 << 20, disk_gib=10000)
    api.add_host("hv2")
    return api


@pytest.mark.parametrize(
    ("family", "method", "path", "body", "allowed"), ROUTES, ids=[f"{r[1]} {r[2]}" for r in ROUTES]
)
def test_each_role_against_each_route(
    two_hosts: Api, family: str, method: str, path: str, body: Any, allowed: set[str]
) -> None:
    api = two_hosts
    kwargs = {"json": body()} if body else {}
    assert api.call(method, path, role=None, **kwargs).status_code == 401
    bad = api.client.request(method, path, headers={"Authorization": "Bearer nope"}, **kwargs)
    assert bad.status_code == 401
    for caller in CALLERS:
        kwargs = {"json": body()} if body else {}
        status = api.call(method, path, role=caller, **kwargs).status_code
        if caller in allowed:
            assert 200 <= status < 300, (family, caller, status)
        else:
            assert status == 403, (family, caller, status)


def test_agent_cannot_read_another_hosts_server(two_hosts: Api) -> None:
    api = two_hosts
    server = api.add_server(host="hv1")
    path = f"/v1/hosts/hv1/servers/{server['id']}/desired-state"
    assert api.call("GET", path, role="agent:hv1").status_code == 200
    assert api.call("GET", path, role="agent:hv2").status_code == 403
    # Nor through its own host's path: the server is not on hv2.
    assert (
        api.call("GET", f"/v1/hosts/hv2/servers/{server['id']}/desired-state", role="agent:hv2").status_code
        == 404
    )


def test_agent_report_for_a_foreign_server_changes_nothing(two_hosts: Api) -> None:
    api = two_hosts
    server = api.add_server(host="hv1")
    report = {"servers": [{"id": server["id"], "state": "running"}], "full": False}
    assert api.call("POST", "/v1/hosts/hv2/observed-state", role="agent:hv2", json=report).status_code == 204
    assert api.call("GET", f"/v1/servers/{server['id']}").json()["observed_state"] == "pending"


def test_missing_token_says_bearer(api: Api) -> None:
    response = api.call("GET", "/v1/hosts", role=None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
