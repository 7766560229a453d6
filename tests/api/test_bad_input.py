"""Bad input: 4xx naming the field, nothing created; garbage to every POST route never gives a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest

from controlplane.models.audit import AuditEvent
from controlplane.models.host import Host
from controlplane.models.server import Server
from tests.utils.api import Api

GOOD = {"name": "web", "vcpus": 1, "memory_mib": 1024, "disk_gib": 10}


@pytest.fixture
def with_host(api: Api) -> Api:
    api.add_host("hv1")
    return api


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vcpus": -1}, "vcpus"),
        ({"vcpus": 0}, "vcpus"),
        ({"vcpus": 65}, "vcpus"),
        ({"memory_mib": -1024}, "memory_mib"),
        ({"memory_mib": 63}, "memory_mib"),
        ({"memory_mib": 1024 * 1024 + 1}, "memory_mib"),
        ({"disk_gib": -5}, "disk_gib"),
        ({"disk_gib": 64 * 1024 + 1}, "disk_gib"),
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"vcpus": "two"}, "vcpus"),
        ({"vcpus": 1.5}, "vcpus"),
        ({"name": 42}, "name"),
        ({"host": "nope"}, "host"),
        ({"contract_id": 999}, "contract_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_server_input_names_the_field_and_creates_nothing(
    with_host: Api, change: dict[str, Any], field: str
) -> None:
    api = with_host
    before = (api.count(Server), api.count(AuditEvent))
    response = api.call("POST", "/v1/servers", role="operator", json={**GOOD, **change})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field
    assert field in body["detail"]
    assert (api.count(Server), api.count(AuditEvent)) == before


def test_missing_field_is_named(with_host: Api) -> None:
    response = with_host.call("POST", "/v1/servers", role="operator", json={"name": "web", "vcpus": 1})
    assert (response.status_code, response.json()["field"]) == (422, "memory_mib")


def test_malformed_json_is_422_naming_the_body(with_host: Api) -> None:
    api = with_host
    before = api.count(Server)
    response = api.call(
        "POST",
        "/v1/servers",
        role="operator",
        content=b'{"name": "web", "vcpus": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert response.json()["detail"].startswith("body: malformed JSON")
    assert api.count(Server) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vcpus": -4}, "vcpus"),
        ({"disk_gib": 0}, "disk_gib"),
        ({"name": "bad name!"}, "name"),
        ({"name": "h" * 64}, "name"),
    ],
)
def test_bad_host_input_names_the_field(api: Api, change: dict[str, Any], field: str) -> None:
    body = {"name": "hv9", "libvirt_uri": "qemu:///system", "vcpus": 4, "memory_mib": 4096, "disk_gib": 10}
    response = api.call("POST", "/v1/hosts", json={**body, **change})
    assert (response.status_code, response.json()["field"]) == (422, field)
    assert api.count(Host) == 0


def test_nested_error_field_is_dotted(with_host: Api) -> None:
    report = {"servers": [{"id": "x", "state": "exploded"}]}
    response = with_host.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=report)
    assert (response.status_code, response.json()["field"]) == (422, "servers.0.state")


GARBAGE: list[Any] = [
    b"",
    b"\xff\xfe",
    b"not json",
    b"[]",
    b"null",
    b"42",
    b'"text"',
    b"{}",
    b'{"name": {"$ne": 1}, "vcpus": [1], "memory_mib": null}',
    b"{" * 200,
]


def _post_paths(api: Api) -> list[str]:
    paths = api.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [re.sub(r"\{[^}]+\}", "x", p) for p, ops in paths.items() if "post" in ops]


def test_garbage_to_every_post_route_never_gives_a_500(with_host: Api) -> None:
    api = with_host
    paths = _post_paths(api)
    assert "/v1/servers" in paths and "/v1/hosts/x/observed-state" in paths
    for path in [*paths, *(p.replace("/x/", "/hv1/") for p in paths if "/hosts/x/" in p)]:
        for body in GARBAGE:
            response = api.call("POST", path, content=body, headers={"content-type": "application/json"})
            assert response.status_code < 500, (path, body, response.status_code, response.text)
            if response.status_code == 422:
                assert "field" in response.json(), (path, body)
