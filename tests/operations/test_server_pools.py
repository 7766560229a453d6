"""A server can name its address pool, and `GET /v1/servers/{id}` shows the addresses it holds."""

from __future__ import annotations

from controlplane.models import Server
from tests.utils.api import Api


def _pool(api: Api, name: str, cidr: str, **extra: object) -> None:
    body = {"name": name, "cidr": cidr, "network_name": "dctest-net", **extra}
    response = api.call("POST", "/v1/pools", role="operator", json=body)
    assert response.status_code == 201, response.text


def test_a_server_shows_the_address_it_holds(api: Api) -> None:
    api.add_host("hv1")
    _pool(api, "web", "192.0.2.0/29", gateway="192.0.2.1")
    server = api.add_server("s1")
    (address,) = api.call("GET", f"/v1/servers/{server['id']}").json()["addresses"]
    assert address["address"] == "192.0.2.2"
    assert (address["pool"], address["kind"], address["network"]) == ("web", "primary", "dctest-net")
    first_octet = int(address["mac"].split(":")[0], 16)
    assert first_octet & 0x02 and not first_octet & 0x01  # locally administered, unicast
    listed = api.call("GET", "/v1/servers").json()
    assert listed[0]["addresses"] == [address]


def test_a_server_leases_from_the_pool_it_names(api: Api) -> None:
    api.add_host("hv1")
    _pool(api, "first", "192.0.2.0/29")
    _pool(api, "second", "198.51.100.0/29")
    server = api.add_server("s1", pool="second")
    assert [a["pool"] for a in server["addresses"]] == ["second"]
    assert server["addresses"][0]["address"].startswith("198.51.100.")


def test_an_unknown_pool_is_refused_naming_the_field_and_nothing_is_written(api: Api) -> None:
    api.add_host("hv1")
    body = {"name": "s1", "vcpus": 1, "memory_mib": 512, "disk_gib": 1, "pool": "nope"}
    response = api.call("POST", "/v1/servers", role="operator", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == "pool"
    assert api.count(Server) == 0


def test_a_pool_bound_to_some_hosts_places_its_servers_there(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("hv2")  # both empty: hv1 (the older) would win without the pool
    _pool(api, "hv2-only", "192.0.2.0/29", host_names=["hv2"])
    assert api.add_server("s1", pool="hv2-only")["host"] == "hv2"


def test_naming_a_pool_that_does_not_serve_the_named_host_is_refused(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("hv2")
    _pool(api, "hv2-only", "192.0.2.0/29", host_names=["hv2"])
    body = {"name": "s1", "vcpus": 1, "memory_mib": 512, "disk_gib": 1, "pool": "hv2-only", "host": "hv1"}
    response = api.call("POST", "/v1/servers", role="operator", json=body)
    assert (response.status_code, response.json()["field"]) == (422, "pool")
    assert api.count(Server) == 0


def _report_networks(api: Api, host: str, networks: list[str]) -> None:
    body = {"libvirt_uri": "qemu:///system", "libvirt_connected": True, "networks": networks}
    response = api.call("POST", f"/v1/hosts/{host}/heartbeat", role=f"agent:{host}", json=body)
    assert response.status_code == 200, response.text


def test_a_pool_on_a_network_its_hosts_lack_is_refused_naming_them(api: Api) -> None:
    api.add_host("hv1")
    api.add_host("hv2")
    _report_networks(api, "hv1", ["dctest-net", "default"])
    _report_networks(api, "hv2", ["default"])
    body = {"name": "web", "cidr": "192.0.2.0/29", "network_name": "dctest-net"}
    response = api.call("POST", "/v1/pools", role="operator", json=body)
    assert (response.status_code, response.json()["field"]) == (422, "network_name")
    assert "hv2" in response.json()["detail"] and "hv1" not in response.json()["detail"]
    body["host_names"] = ["hv1"]  # only where the network is
    assert api.call("POST", "/v1/pools", role="operator", json=body).status_code == 201
    assert api.call("GET", "/v1/hosts/hv2").json()["networks"] == ["default"]
