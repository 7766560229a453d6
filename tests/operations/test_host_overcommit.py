"""Host overcommit ratios (Nova's cpu/ram allocation ratios) are host settings that placement applies."""

from __future__ import annotations

import pytest

from tests.utils.api import Api

SMALL = {"vcpus": 1, "memory_mib": 512, "disk_gib": 1}


def _create(api: Api, name: str, **fields: int) -> int:
    body = {"name": name, **SMALL, **fields}
    return int(api.call("POST", "/v1/servers", role="operator", json=body).status_code)


def test_without_overcommit_a_host_takes_no_more_vcpus_than_it_has(api: Api) -> None:
    api.add_host("hv1", vcpus=2, memory_mib=65536)
    assert [_create(api, f"s{n}") for n in range(3)] == [201, 201, 409]


def test_a_cpu_allocation_ratio_lets_placement_hand_out_more_vcpus(api: Api) -> None:
    api.add_host("hv1", vcpus=2, memory_mib=65536)
    response = api.call("PATCH", "/v1/hosts/hv1", role="operator", json={"cpu_allocation_ratio": 2.0})
    assert response.status_code == 200
    assert response.json()["cpu_allocation_ratio"] == 2.0
    assert response.json()["admin_state"] == "active"  # a field left out stays as it is
    assert [_create(api, f"s{n}") for n in range(5)] == [201, 201, 201, 201, 409]


def test_a_ram_allocation_ratio_applies_to_memory_and_disk_is_never_overcommitted(api: Api) -> None:
    api.add_host("hv1", vcpus=64, memory_mib=1024, disk_gib=2)
    body = {"ram_allocation_ratio": 1.5, "cpu_allocation_ratio": 4}
    assert api.call("PATCH", "/v1/hosts/hv1", role="operator", json=body).status_code == 200
    assert _create(api, "big", memory_mib=1536, disk_gib=1) == 201
    assert _create(api, "more", memory_mib=64, disk_gib=1) == 409  # 1.5 x 1024 MiB is all handed out
    assert _create(api, "disk", memory_mib=64, disk_gib=2) == 409


def test_ratios_are_set_at_registration_and_audited_when_changed(api: Api) -> None:
    body = {
        "name": "hv9",
        "libvirt_uri": "qemu:///system",
        "vcpus": 8,
        "memory_mib": 8192,
        "disk_gib": 100,
        "cpu_allocation_ratio": 4.0,
    }
    created = api.call("POST", "/v1/hosts", role="operator", json=body).json()
    assert (created["cpu_allocation_ratio"], created["ram_allocation_ratio"]) == (4.0, 1.0)
    api.call("PATCH", "/v1/hosts/hv9", role="operator", json={"ram_allocation_ratio": 1.2})
    events = api.call("GET", "/v1/audit", role="auditor", params={"entity_type": "host"}).json()
    update = next(e for e in events if e["action"] == "update")
    assert (update["before"]["ram_allocation_ratio"], update["after"]["ram_allocation_ratio"]) == (1.0, 1.2)


@pytest.mark.parametrize("ratio", [0, 0.05, 100, "2", True, None])
def test_a_ratio_outside_its_range_is_refused_naming_the_field(api: Api, ratio: object) -> None:
    api.add_host("hv1")
    response = api.call("PATCH", "/v1/hosts/hv1", role="operator", json={"cpu_allocation_ratio": ratio})
    if ratio is None:  # null means "leave it": nothing changes
        assert response.status_code == 200 and response.json()["cpu_allocation_ratio"] == 1.0
        return
    assert response.status_code == 422
    assert response.json()["field"] == "cpu_allocation_ratio"
