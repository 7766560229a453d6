"""Agent routes: desired state out, observed state and deletion records in, idempotently."""

from __future__ import annotations

from typing import Any

from controlplane.models.audit import AuditEvent
from controlplane.models.server import DeletionRecord
from tests.utils.api import Api


def _deletion(server_id: str) -> dict[str, Any]:
    return {
        "server_id": server_id,
        "domain_name": f"dcloud-{server_id}",
        "volumes": [
            {
                "name": f"dcloud-{server_id}-disk0",
                "path": f"/var/lib/dcloud/images/dcloud-{server_id}-disk0",
                "capacity_bytes": 10 << 30,
                "bytes_overwritten": 10 << 30,
            }
        ],
        "bytes_overwritten": 10 << 30,
        "method": "zero-fill",
        "started_at": "2027-03-02T09:00:01Z",
        "finished_at": "2027-03-02T09:00:05Z",
    }


def test_desired_state_lists_the_hosts_servers(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("hv2")
    a = api.add_server("a", host="hv1")
    api.add_server("b", host="hv2")
    desired = api.call("GET", "/v1/hosts/hv1/desired-state", role="agent:hv1").json()
    assert desired["host"] == "hv1"
    assert [(s["id"], s["name"], s["desired_state"], s["networks"]) for s in desired["servers"]] == [
        (a["id"], "a", "running", [])
    ]


def test_observed_state_is_recorded(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server(host="hv1")
    report = {"servers": [{"id": server["id"], "state": "running", "detail": "booted"}]}
    assert api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=report).status_code == 204
    seen = api.call("GET", f"/v1/servers/{server['id']}").json()
    assert (seen["observed_state"], seen["observed_detail"]) == ("running", "booted")
    assert seen["observed_at"] is not None


def test_deletion_report_makes_a_record_and_removes_the_server_from_the_desired_list(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server(host="hv1")
    api.call("DELETE", f"/v1/servers/{server['id']}", role="operator")
    single = api.call("GET", f"/v1/hosts/hv1/servers/{server['id']}/desired-state", role="agent:hv1").json()
    assert single["desired_state"] == "deleted"
    report = {"servers": [], "deletions": [_deletion(server["id"])], "full": False}
    assert api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=report).status_code == 204
    record = api.call("GET", f"/v1/servers/{server['id']}/deletion-record", role="auditor").json()
    assert (record["bytes_overwritten"], record["method"], record["host"]) == (10 << 30, "zero-fill", "hv1")
    row = api.call("GET", f"/v1/servers/{server['id']}").json()
    assert row["deleted_at"] is not None and row["observed_state"] == "deleted"
    assert api.call("GET", "/v1/hosts/hv1/desired-state", role="agent:hv1").json()["servers"] == []
    assert api.call("GET", "/v1/hosts/hv1").json()["used"]["servers"] == 0


def test_a_resent_deletion_report_is_accepted_and_changes_nothing(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server(host="hv1")
    api.call("DELETE", f"/v1/servers/{server['id']}", role="operator")
    report = {"deletions": [_deletion(server["id"])], "full": False}
    api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=report)
    first = api.call("GET", f"/v1/servers/{server['id']}").json()
    records, events = api.count(DeletionRecord), api.count(AuditEvent)
    api.clock.advance(minutes=1)
    again = api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=report)
    assert again.status_code == 204
    assert (api.count(DeletionRecord), api.count(AuditEvent)) == (records, events)
    assert api.call("GET", f"/v1/servers/{server['id']}").json() == first


def test_stale_running_report_cannot_resurrect_a_wiped_server(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server(host="hv1")
    api.call("DELETE", f"/v1/servers/{server['id']}", role="operator")
    api.call(
        "POST",
        "/v1/hosts/hv1/observed-state",
        role="agent:hv1",
        json={"deletions": [_deletion(server["id"])], "full": False},
    )
    api.call(
        "POST",
        "/v1/hosts/hv1/observed-state",
        role="agent:hv1",
        json={"servers": [{"id": server["id"], "state": "running"}], "full": False},
    )
    assert api.call("GET", f"/v1/servers/{server['id']}").json()["observed_state"] == "deleted"


def test_full_report_without_a_server_marks_it_pending(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server(host="hv1")
    api.call(
        "POST",
        "/v1/hosts/hv1/observed-state",
        role="agent:hv1",
        json={"servers": [{"id": server["id"], "state": "running"}]},
    )
    api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json={"servers": [], "full": True})
    seen = api.call("GET", f"/v1/servers/{server['id']}").json()
    assert (seen["observed_state"], seen["observed_detail"]) == ("pending", "no domain on the host")


def test_heartbeat_of_unknown_host_is_refused_for_agents(api: Api) -> None:
    api.add_host("hv1")
    body = {"libvirt_uri": "qemu:///system", "libvirt_connected": True}
    assert api.call("POST", "/v1/hosts/zz/heartbeat", role="agent:hv1", json=body).status_code == 403
    assert api.call("POST", "/v1/hosts/zz/heartbeat", role="admin", json=body).status_code == 404
