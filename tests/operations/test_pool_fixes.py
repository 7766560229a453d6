"""Address pools an operator can fix: update, disable (no new leases), delete only while it never lent."""

from __future__ import annotations

from tests.utils.api import Api


def _pool(api: Api, name: str = "web", cidr: str = "192.0.2.0/29") -> int:
    body = {"name": name, "cidr": cidr, "network_name": "dctest-net"}
    response = api.call("POST", "/v1/pools", role="operator", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _server(api: Api, name: str, **extra: object) -> tuple[int, dict[str, object]]:
    body = {"name": name, "vcpus": 1, "memory_mib": 512, "disk_gib": 1, **extra}
    response = api.call("POST", "/v1/servers", role="operator", json=body)
    return response.status_code, response.json()


def test_a_disabled_pool_lends_no_new_address_and_keeps_what_it_lent(api: Api) -> None:
    api.add_host("hv1")
    web = _pool(api, "web")
    _pool(api, "spare", "198.51.100.0/29")
    _, first = _server(api, "s1")
    response = api.call("PATCH", f"/v1/pools/{web}", role="operator", json={"enabled": False})
    assert response.status_code == 200 and response.json()["enabled"] is False
    _, second = _server(api, "s2")
    assert [a["pool"] for a in second["addresses"]] == ["spare"]  # type: ignore[index]
    kept = api.call("GET", f"/v1/servers/{first['id']}").json()["addresses"]
    assert [a["pool"] for a in kept] == ["web"]
    status, body = _server(api, "s3", pool="web")
    assert (status, body["field"]) == (422, "pool")


def test_a_pool_can_be_rebound_and_described(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("hv2")
    web = _pool(api)
    body = {"host_names": ["hv2"], "description": "second rack"}
    updated = api.call("PATCH", f"/v1/pools/{web}", role="operator", json=body).json()
    assert (updated["host_names"], updated["description"]) == (["hv2"], "second rack")


def test_a_pool_that_never_lent_can_be_deleted(api: Api) -> None:
    web = _pool(api)
    assert api.call("DELETE", f"/v1/pools/{web}", role="operator").status_code == 204
    assert api.call("GET", "/v1/pools", role="operator").json() == []


def test_a_pool_with_address_history_cannot_be_deleted_only_disabled(api: Api) -> None:
    api.add_host("hv1")
    web = _pool(api)
    _server(api, "s1")
    response = api.call("DELETE", f"/v1/pools/{web}", role="operator")
    assert response.status_code == 409
    assert "disable it instead" in response.json()["detail"]
    assert len(api.call("GET", "/v1/pools", role="operator").json()) == 1
