"""Hosts: registration, derived health from heartbeats, maintenance, orphans."""

from __future__ import annotations

from controlplane.models.host import Host
from tests.utils.api import Api


def test_registered_host_is_listed_with_capacity_and_usage(api: Api) -> None:
    api.add_host("hv1", vcpus=8, memory_mib=16384, disk_gib=500)
    api.add_server(vcpus=2, memory_mib=2048, disk_gib=20)
    host = api.call("GET", "/v1/hosts/hv1").json()
    assert (host["vcpus"], host["memory_mib"], host["disk_gib"]) == (8, 16384, 500)
    assert host["used"] == {"vcpus": 2, "memory_mib": 2048, "disk_gib": 20, "servers": 1}
    assert [h["name"] for h in api.call("GET", "/v1/hosts").json()] == ["hv1"]


def test_duplicate_host_name_is_a_conflict(api: Api) -> None:
    api.add_host("hv1")
    before = api.count(Host)
    body = {"name": "hv1", "libvirt_uri": "qemu:///system", "vcpus": 1, "memory_mib": 1024, "disk_gib": 1}
    response = api.call("POST", "/v1/hosts", json=body)
    assert (response.status_code, response.json()["field"]) == (409, "name")
    assert api.count(Host) == before


def test_host_without_heartbeat_is_unknown(api: Api) -> None:
    api.add_host("hv1", heartbeat=False)
    assert api.call("GET", "/v1/hosts/hv1").json()["health"] == "unknown"


def test_host_is_up_until_two_intervals_pass_without_heartbeat_then_unknown_not_down(api: Api) -> None:
    api.add_host("hv1")  # heartbeat interval 30 s, two missed intervals allowed
    api.clock.advance(seconds=60)
    assert api.call("GET", "/v1/hosts/hv1").json()["health"] == "up"
    api.clock.advance(seconds=1)
    assert api.call("GET", "/v1/hosts/hv1").json()["health"] == "unknown"
    api.beat("hv1")
    assert api.call("GET", "/v1/hosts/hv1").json()["health"] == "up"


def test_maintenance_host_takes_no_new_servers(api: Api) -> None:
    api.add_host("hv1")
    patched = api.call("PATCH", "/v1/hosts/hv1", json={"admin_state": "maintenance"})
    assert patched.json()["health"] == "maintenance"
    response = api.call(
        "POST",
        "/v1/servers",
        role="operator",
        json={"name": "s", "vcpus": 1, "memory_mib": 64, "disk_gib": 1},
    )
    assert response.status_code == 409
    named = api.call(
        "POST",
        "/v1/servers",
        role="operator",
        json={"name": "s", "vcpus": 1, "memory_mib": 64, "disk_gib": 1, "host": "hv1"},
    )
    assert named.status_code == 409 and "maintenance" in named.json()["detail"]
    api.call("PATCH", "/v1/hosts/hv1", json={"admin_state": "active"})
    api.add_server()


def test_maintenance_change_is_audited(api: Api) -> None:
    api.add_host("hv1")
    api.call("PATCH", "/v1/hosts/hv1", role="operator", json={"admin_state": "maintenance"})
    events = api.call("GET", "/v1/audit", role="auditor", params={"entity_type": "host"}).json()
    change = events[0]
    assert change["actor"] == "operator:operator-token"
    assert change["before"]["admin_state"] == "active" and change["after"]["admin_state"] == "maintenance"


def test_unknown_host_is_404_naming_host(api: Api) -> None:
    response = api.call("GET", "/v1/hosts/nope")
    assert (response.status_code, response.json()["field"]) == (404, "host")


def test_orphans_are_listed_per_host_and_dropped_when_a_full_report_no_longer_has_them(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("hv2")
    orphan = {
        "domain_name": "handmade",
        "domain_uuid": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
        "state": "running",
    }
    api.call(
        "POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json={"orphans": [orphan], "full": True}
    )
    listed = api.call("GET", "/v1/hosts/hv1/orphans").json()
    assert [(o["domain_name"], o["state"]) for o in listed] == [("handmade", "running")]
    assert api.call("GET", "/v1/hosts/hv2/orphans").json() == []
    api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json={"orphans": [], "full": False})
    assert len(api.call("GET", "/v1/hosts/hv1/orphans").json()) == 1
    api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json={"orphans": [], "full": True})
    assert api.call("GET", "/v1/hosts/hv1/orphans").json() == []
