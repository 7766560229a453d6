"""Servers built on images (issue 9): first-boot input checks, hide/delete rules, what the agent is told
and served, reboot and resize orders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.utils.api import Api
from tests.utils.images import PASSWORD_HASH, qcow2_image, raw_image, sha256_of, ssh_key


@pytest.fixture
def image(api: Api, import_dir: Path) -> dict[str, Any]:
    path = qcow2_image(import_dir / "base.qcow2", size_mib=1536)
    response = api.call(
        "POST", "/v1/images", role="operator", json={"name": "base", "source_path": str(path)}
    )
    found: dict[str, Any] = api.call("GET", f"/v1/images/{response.json()['id']}").json()
    assert found["state"] == "active", found
    return found


def _create(api: Api, **body: Any) -> Any:
    base = {"name": "web", "vcpus": 1, "memory_mib": 512, "disk_gib": 4}
    return api.call("POST", "/v1/servers", role="operator", json={**base, **body})


def test_server_from_image_carries_first_boot_to_the_agent(api: Api, image: dict[str, Any]) -> None:
    api.add_host("hv1")
    key = ssh_key()
    created = _create(
        api, image_id=image["id"], hostname="web-1", ssh_authorized_keys=[key], password_hash=PASSWORD_HASH
    )
    assert created.status_code == 201, created.text
    server = created.json()
    assert server["has_password"] is True and "password_hash" not in server
    desired = api.call("GET", "/v1/hosts/hv1/desired-state", role="agent:hv1").json()["servers"][0]
    assert desired["image"]["id"] == image["id"] and desired["image"]["sha256"] == image["sha256"]
    assert desired["image"]["disk_format"] == "qcow2"
    assert desired["first_boot"] == {
        "hostname": "web-1",
        "ssh_authorized_keys": [key],
        "password_hash": PASSWORD_HASH,
    }


def test_hostname_defaults_to_a_valid_label(api: Api, image: dict[str, Any]) -> None:
    api.add_host("hv1")
    server = _create(api, image_id=image["id"]).json()
    assert server["hostname"] == f"srv-{server['id'][:12]}"


def test_disk_smaller_than_the_image_minimum_is_422(api: Api, image: dict[str, Any]) -> None:
    api.add_host("hv1")
    response = _create(api, image_id=image["id"], disk_gib=1)
    assert response.status_code == 422 and response.json()["field"] == "disk_gib"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hostname", "Web_1"),
        ("hostname", "-web"),
        ("hostname", "a" * 64),
        ("hostname", "web.example.com"),
        ("ssh_authorized_keys", ["not a key"]),
        ("ssh_authorized_keys", ["ssh-rsa AAAAB3NzaC1yc2E"]),
        ("ssh_authorized_keys", [ssh_key().replace("ssh-ed25519 ", "ssh-rsa ", 1)]),
        ("password_hash", "hunter2"),
        ("password_hash", "$1$md5salt$abcdefghijklmnopqrstuv"),
    ],
)
def test_bad_first_boot_input_is_422_naming_the_field(
    api: Api, image: dict[str, Any], field: str, value: Any
) -> None:
    api.add_host("hv1")
    response = _create(api, image_id=image["id"], **{field: value})
    assert response.status_code == 422
    assert field in response.json()["field"]
    assert "hunter2" not in response.text


def test_first_boot_settings_without_an_image_are_422(api: Api) -> None:
    api.add_host("hv1")
    response = _create(api, ssh_authorized_keys=[ssh_key()])
    assert response.status_code == 422 and response.json()["field"] == "ssh_authorized_keys"


def test_hidden_image_refuses_new_servers_but_keeps_old(api: Api, image: dict[str, Any]) -> None:
    api.add_host("hv1")
    old = _create(api, image_id=image["id"]).json()
    assert api.call("POST", f"/v1/images/{image['id']}/hide", role="operator").json()["hidden"] is True
    response = _create(api, image_id=image["id"])
    assert response.status_code == 422 and response.json()["field"] == "image_id"
    desired = api.call("GET", f"/v1/hosts/hv1/servers/{old['id']}/desired-state", role="agent:hv1").json()
    assert desired["image"]["id"] == image["id"]
    listed = api.call("GET", "/v1/images?include_hidden=false", role="auditor").json()
    assert image["id"] not in [i["id"] for i in listed]


def test_image_in_use_cannot_be_deleted(api: Api, image: dict[str, Any], image_dir: Path) -> None:
    api.add_host("hv1")
    _create(api, image_id=image["id"])
    response = api.call("DELETE", f"/v1/images/{image['id']}", role="operator")
    assert response.status_code == 409 and "hide it instead" in response.json()["detail"]
    assert (image_dir / f"{image['id']}.qcow2").exists()


def test_unused_image_delete_removes_its_file(api: Api, image: dict[str, Any], image_dir: Path) -> None:
    assert api.call("DELETE", f"/v1/images/{image['id']}", role="operator").status_code == 200
    assert not (image_dir / f"{image['id']}.qcow2").exists()
    assert api.call("GET", f"/v1/images/{image['id']}").status_code == 404


def test_agent_route_serves_the_file_with_range(api: Api, image: dict[str, Any], image_dir: Path) -> None:
    api.add_host("hv1")
    data = (image_dir / f"{image['id']}.qcow2").read_bytes()
    path = f"/v1/hosts/hv1/images/{image['id']}/file"
    whole = api.call("GET", path, role="agent:hv1")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["etag"] == f'"{image["sha256"]}"'
    part = api.call("GET", path, role="agent:hv1", headers={"Range": "bytes=1000-"})
    assert part.status_code == 206 and part.content == data[1000:]


def test_image_file_route_is_for_agents_only(api: Api, image: dict[str, Any]) -> None:
    api.add_host("hv1")
    path = f"/v1/hosts/hv1/images/{image['id']}/file"
    assert api.call("GET", path, role="operator").status_code == 403


def test_reboot_bumps_the_order_and_is_audited(api: Api, image: dict[str, Any]) -> None:
    api.add_host("hv1")
    server = _create(api, image_id=image["id"]).json()
    response = api.call("POST", f"/v1/servers/{server['id']}/reboot", role="operator", json={"hard": True})
    assert response.status_code == 200 and response.json()["reboot_seq"] == 1
    desired = api.call("GET", f"/v1/hosts/hv1/servers/{server['id']}/desired-state", role="agent:hv1").json()
    assert desired["reboot"] == {"seq": 1, "hard": True}
    events = api.call("GET", f"/v1/audit?entity_type=server&entity_id={server['id']}", role="auditor").json()
    assert "reboot_hard" in [e["action"] for e in events]


def test_reboot_of_a_stopped_server_is_409(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server()
    api.call("POST", f"/v1/servers/{server['id']}/stop", role="operator")
    assert api.call("POST", f"/v1/servers/{server['id']}/reboot", role="operator").status_code == 409


def test_resize_grows_and_never_shrinks(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server(disk_gib=10)
    grown = api.call("POST", f"/v1/servers/{server['id']}/resize", role="operator", json={"disk_gib": 20})
    assert grown.status_code == 200 and grown.json()["disk_gib"] == 20
    assert grown.json()["generation"] == server["generation"] + 1
    shrink = api.call("POST", f"/v1/servers/{server['id']}/resize", role="operator", json={"disk_gib": 5})
    assert shrink.status_code == 409 and shrink.json()["field"] == "disk_gib"


def test_resize_past_the_host_is_409(api: Api) -> None:
    api.add_host("hv1", vcpus=4)
    server = api.add_server(vcpus=2)
    response = api.call("POST", f"/v1/servers/{server['id']}/resize", role="operator", json={"vcpus": 8})
    assert response.status_code == 409


def test_observed_size_is_stored(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server()
    report = {
        "servers": [
            {
                "id": server["id"],
                "state": "running",
                "vcpus": 1,
                "memory_mib": 1024,
                "disk_bytes": 10 * 1024**3,
            }
        ],
        "full": False,
    }
    assert api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=report).status_code == 204
    seen = api.call("GET", f"/v1/servers/{server['id']}").json()
    assert (seen["observed_vcpus"], seen["observed_memory_mib"], seen["observed_disk_bytes"]) == (
        1,
        1024,
        10 * 1024**3,
    )


def test_raw_image_min_disk_can_be_raised_at_import(api: Api, import_dir: Path) -> None:
    path = raw_image(import_dir / "small.raw")
    body = {"name": "r", "source_path": str(path), "min_disk_gib": 3, "sha256": sha256_of(path)}
    created = api.call("POST", "/v1/images", role="operator", json=body).json()
    assert api.call("GET", f"/v1/images/{created['id']}").json()["min_disk_gib"] == 3


def test_deletion_record_lists_the_shared_base_as_holding_no_customer_data(
    api: Api, image: dict[str, Any]
) -> None:
    api.add_host("hv1")
    server = _create(api, image_id=image["id"]).json()
    api.call("DELETE", f"/v1/servers/{server['id']}", role="operator")
    name = f"dcloud-{server['id']}"
    volumes = [
        {
            "name": f"{name}-disk0",
            "path": f"/p/{name}-disk0",
            "capacity_bytes": 4 << 30,
            "bytes_overwritten": 1 << 20,
        },
        {
            "name": f"{name}-seed",
            "path": f"/p/{name}-seed",
            "capacity_bytes": 69632,
            "bytes_overwritten": 69632,
        },
    ]
    base = {
        "name": f"{image['id']}.qcow2",
        "path": f"/cache/{image['id']}.qcow2",
        "image_id": image["id"],
        "customer_data": False,
        "other_users": 2,
    }
    deletion = {
        "server_id": server["id"],
        "domain_name": name,
        "volumes": volumes,
        "shared_bases": [base],
        "bytes_overwritten": (1 << 20) + 69632,
        "method": "zero-extents+fsync",
        "started_at": "2027-03-02T09:00:01Z",
        "finished_at": "2027-03-02T09:00:05Z",
    }
    report = {"deletions": [deletion], "full": False}
    assert api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=report).status_code == 204
    record = api.call("GET", f"/v1/servers/{server['id']}/deletion-record").json()
    assert [v["name"] for v in record["volumes"]] == [f"{name}-disk0", f"{name}-seed"]
    assert record["shared_bases"] == [base]
    # The image is free again once its last server is wiped.
    assert api.call("DELETE", f"/v1/images/{image['id']}", role="operator").status_code == 200


def test_a_key_with_a_second_line_in_its_comment_is_422(api: Api, image: dict[str, Any]) -> None:
    api.add_host("hv1")
    sneaky = ssh_key(comment="me\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA other")
    response = _create(api, image_id=image["id"], ssh_authorized_keys=[sneaky])
    assert response.status_code == 422


def test_a_plan_change_in_force_today_resizes_the_contracts_servers_at_once(api: Api) -> None:
    from controlplane.db import session_scope
    from tests.utils.factories import make_contract, make_customer

    api.add_host("hv1")
    with session_scope(api.engine) as session:
        contract_id = make_contract(session, make_customer(session)).id
    server = api.add_server(contract_id=contract_id, vcpus=1, memory_mib=1024, disk_gib=10)
    body = {
        "plan": "std-4",
        "effective_from": "2027-03-02",  # the API clock's Seoul day: a later date waits for its day
        "monthly_fee": 200_000,
        "server_size": {"vcpus": 2, "memory_mib": 2048, "disk_gib": 20},
    }
    response = api.call("POST", f"/v1/contracts/{contract_id}/plan-changes", role="billing", json=body)
    assert response.status_code == 201, response.text
    desired = api.call("GET", f"/v1/hosts/hv1/servers/{server['id']}/desired-state", role="agent:hv1").json()
    assert (desired["vcpus"], desired["memory_mib"], desired["disk_gib"]) == (2, 2048, 20)
    events = api.call("GET", f"/v1/audit?entity_type=server&entity_id={server['id']}", role="auditor").json()
    assert [e["clause"] for e in events if e["action"] == "resize"] == ["Art. 32(2)"]


def test_a_plan_change_that_would_shrink_a_disk_is_409_and_changes_nothing(api: Api) -> None:
    from controlplane.db import session_scope
    from tests.utils.factories import make_contract, make_customer

    api.add_host("hv1")
    with session_scope(api.engine) as session:
        contract_id = make_contract(session, make_customer(session)).id
    api.add_server(contract_id=contract_id, disk_gib=10)
    body = {"effective_from": "2027-03-10", "monthly_fee": 50_000, "server_size": {"disk_gib": 5}}
    response = api.call("POST", f"/v1/contracts/{contract_id}/plan-changes", role="billing", json=body)
    assert response.status_code == 409
    contract = api.call("GET", f"/v1/contracts/{contract_id}", role="billing").json()
    assert contract["monthly_fee"] == 100_000
