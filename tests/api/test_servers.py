"""Servers: placement, lifecycle actions, illegal transitions, audit."""

from __future__ import annotations

import pytest

from controlplane.models.server import Server
from tests.utils.api import Api


def test_server_is_placed_on_the_least_loaded_up_host(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("hv2")
    first = api.add_server("a", vcpus=4)
    second = api.add_server("b", vcpus=1)
    assert {first["host"], second["host"]} == {"hv1", "hv2"}
    third = api.add_server("c", vcpus=1)
    assert third["host"] == second["host"]  # 2/16 beats 4/16


def test_unknown_host_is_never_chosen(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("quiet", heartbeat=False, vcpus=64)
    assert {api.add_server(str(i))["host"] for i in range(3)} == {"hv1"}


def test_409_with_a_clear_message_when_nothing_fits(api: Api) -> None:
    api.add_host("hv1", vcpus=2)
    api.add_server("a", vcpus=2)
    before = api.count(Server)
    response = api.call(
        "POST",
        "/v1/servers",
        role="operator",
        json={"name": "b", "vcpus": 1, "memory_mib": 64, "disk_gib": 1},
    )
    assert response.status_code == 409
    assert "no up host has room for 1 vcpus" in response.json()["detail"]
    assert api.count(Server) == before


def test_named_host_without_room_is_409_naming_host(api: Api) -> None:
    api.add_host("hv1", disk_gib=10)
    response = api.call(
        "POST",
        "/v1/servers",
        role="operator",
        json={"name": "b", "vcpus": 1, "memory_mib": 64, "disk_gib": 11, "host": "hv1"},
    )
    assert (response.status_code, response.json()["field"]) == (409, "host")


def test_new_server_wants_running_and_is_pending(api: Api) -> None:
    api.add_host()
    server = api.add_server("web")
    assert (server["desired_state"], server["observed_state"], server["generation"]) == (
        "running",
        "pending",
        1,
    )
    assert api.call("GET", f"/v1/servers/{server['id']}", role="billing").json()["name"] == "web"


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (["suspend"], "suspended"),
        (["suspend", "resume"], "running"),
        (["stop"], "stopped"),
        (["stop", "start"], "running"),
        (["suspend", "stop"], "stopped"),
    ],
)
def test_actions_set_desired_state(api: Api, steps: list[str], expected: str) -> None:
    api.add_host()
    server = api.add_server()
    for step in steps:
        response = api.call("POST", f"/v1/servers/{server['id']}/{step}", role="operator")
        assert response.status_code == 200, response.text
    final = api.call("GET", f"/v1/servers/{server['id']}").json()
    assert final["desired_state"] == expected
    assert final["generation"] == 1 + len(steps)


@pytest.mark.parametrize(
    ("setup", "action", "state"),
    [
        (["delete"], "resume", "deleted"),
        (["delete"], "start", "deleted"),
        (["delete"], "suspend", "deleted"),
        (["stop"], "resume", "stopped"),
        (["stop"], "suspend", "stopped"),
        (["suspend"], "start", "suspended"),
    ],
)
def test_illegal_action_is_409_naming_the_current_state(
    api: Api, setup: list[str], action: str, state: str
) -> None:
    api.add_host()
    server = api.add_server()
    for step in setup:
        method = "DELETE" if step == "delete" else "POST"
        path = f"/v1/servers/{server['id']}" + ("" if step == "delete" else f"/{step}")
        assert api.call(method, path, role="operator").status_code in (200, 202)
    response = api.call("POST", f"/v1/servers/{server['id']}/{action}", role="operator")
    assert response.status_code == 409
    assert repr(state) in response.json()["detail"]


def test_repeating_an_action_is_idempotent(api: Api) -> None:
    api.add_host()
    server = api.add_server()
    for _ in range(2):
        api.call("POST", f"/v1/servers/{server['id']}/suspend", role="operator")
    assert api.call("GET", f"/v1/servers/{server['id']}").json()["generation"] == 2


def test_delete_keeps_the_row_and_is_accepted(api: Api) -> None:
    api.add_host()
    server = api.add_server()
    response = api.call("DELETE", f"/v1/servers/{server['id']}", role="operator")
    assert response.status_code == 202 and response.json()["desired_state"] == "deleted"
    assert api.call("GET", f"/v1/servers/{server['id']}").json()["deleted_at"] is None
    assert api.call("GET", f"/v1/servers/{server['id']}/deletion-record").status_code == 404


def test_every_change_is_audited_with_actor_time_before_and_after(api: Api) -> None:
    api.add_host()
    server = api.add_server()
    api.clock.advance(minutes=5)
    api.call("POST", f"/v1/servers/{server['id']}/suspend", role="operator")
    events = api.call(
        "GET", "/v1/audit", role="auditor", params={"entity_type": "server", "entity_id": server["id"]}
    ).json()
    assert [e["action"] for e in events] == ["suspend", "create"]
    suspend = events[0]
    assert suspend["actor"] == "operator:operator-token"
    assert suspend["at"].startswith("2027-03-02T09:05:00")
    assert suspend["before"]["desired_state"] == "running"
    assert suspend["after"]["desired_state"] == "suspended"
    assert suspend["after"]["generation"] == 2


def test_unknown_server_is_404(api: Api) -> None:
    assert api.call("POST", "/v1/servers/nope/start", role="operator").status_code == 404
    assert api.call("GET", "/v1/servers/nope").status_code == 404
