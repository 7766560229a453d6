"""Art. 24(1),(2): a server gets its one address when it is created, the agent is told to bind it,
and the address goes to quarantine once the server's disks are reported wiped."""

from __future__ import annotations

from tests.utils.api import T0, Api


def _pool(api: Api, cidr: str = "192.0.2.0/29", **extra: object) -> int:
    body = {"name": "dctest-pool", "cidr": cidr, "network_name": "dctest-net", "gateway": "192.0.2.1"}
    body.update(extra)
    response = api.call("POST", "/v1/pools", role="operator", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _utilisation(api: Api, pool_id: int) -> dict[str, int]:
    return api.call("GET", f"/v1/pools/{pool_id}/utilisation", role="operator").json()


def _deletion_report(server_id: str) -> dict[str, object]:
    now = T0.isoformat()  # the app's clock: a wipe cannot be reported as done before it was ordered
    return {
        "servers": [],
        "full": False,
        "deletions": [
            {
                "server_id": server_id,
                "domain_name": f"dcloud-{server_id}",
                "volumes": [
                    {
                        "name": f"dcloud-{server_id}-disk0",
                        "path": "/pool/disk0",
                        "capacity_bytes": 10 << 30,
                        "bytes_overwritten": 10 << 30,
                    }
                ],
                "bytes_overwritten": 10 << 30,
                "method": "zero+fsync",
                "started_at": now,
                "finished_at": now,
            }
        ],
    }


def test_a_new_server_gets_one_address_and_the_agent_is_told_to_bind_it(api: Api) -> None:
    api.add_host("hv1")
    pool_id = _pool(api)
    server = api.add_server("web")

    desired = api.call("GET", f"/v1/hosts/hv1/servers/{server['id']}/desired-state", role="agent:hv1").json()

    (attachment,) = desired["networks"]
    assert attachment["network"] == "dctest-net"
    assert attachment["ip"] in {f"192.0.2.{n}" for n in range(2, 7)}  # not network, gateway or broadcast
    assert _utilisation(api, pool_id)["assigned"] == 1


def test_server_creation_is_refused_and_nothing_kept_when_the_pool_is_full(api: Api) -> None:
    api.add_host("hv1")
    pool_id = _pool(api, cidr="192.0.2.0/30")  # .1 is the gateway: exactly one address to lend
    api.add_server("first")

    body = {"name": "second", "vcpus": 1, "memory_mib": 64, "disk_gib": 1}
    refused = api.call("POST", "/v1/servers", role="operator", json=body)

    assert refused.status_code == 409
    names = [s["name"] for s in api.call("GET", "/v1/servers", role="operator").json()]
    assert names == ["first"]
    assert _utilisation(api, pool_id)["assigned"] == 1


def test_the_address_is_quarantined_once_the_wipe_is_reported(api: Api) -> None:
    api.add_host("hv1")
    pool_id = _pool(api)
    server = api.add_server("web")
    desired = api.call("GET", "/v1/hosts/hv1/desired-state", role="agent:hv1").json()
    address = desired["servers"][0]["networks"][0]
    assert api.call("DELETE", f"/v1/servers/{server['id']}", role="operator").status_code == 202
    assert _utilisation(api, pool_id)["assigned"] == 1  # still lent until the disks are wiped

    report = _deletion_report(server["id"])
    response = api.call("POST", "/v1/hosts/hv1/observed-state", role="agent:hv1", json=report)

    assert response.status_code in (200, 204), response.text
    use = _utilisation(api, pool_id)
    assert (use["assigned"], use["quarantined"]) == (0, 1)
    history = api.call("GET", f"/v1/addresses/{address['ip']}/history", role="operator").json()
    assert history["holders"][0]["server_id"] == server["id"]
    assert history["holders"][0]["released_at"] is not None
