"""`drain`: during the window no new server is placed on the host; with no other room the answer is a
clear 409 naming the drain."""

from __future__ import annotations

from sqlmodel import Session

from controlplane.models.server import Server
from tests.utils.maintenance import World, seoul


def _drain_now(world: World, hosts: list[str]) -> None:
    response = world.create(
        kind="irregular",
        action="drain",
        reason="replacing a disk controller",
        starts_at=seoul("2027-03-03 01:00"),
        ends_at=seoul("2027-03-03 05:00"),
        hosts=hosts,
    )
    assert response.status_code == 201, response.text
    world.advance(seoul("2027-03-03 01:00"))
    world.api.beat("dctest-hv1")
    world.api.beat("dctest-hv2")


def test_a_server_created_during_a_drain_lands_on_another_host(world: World) -> None:
    _drain_now(world, ["dctest-hv1"])
    for i in range(3):
        created = world.api.add_server(f"dctest-new-{i}")
        with Session(world.api.engine) as session:
            server = session.get(Server, created["id"])
            assert server is not None and server.host_id == world.hosts["dctest-hv2"]


def test_a_drained_host_asked_for_by_name_is_a_409(world: World) -> None:
    _drain_now(world, ["dctest-hv1"])
    body = {"name": "dctest-pinned", "vcpus": 1, "memory_mib": 512, "disk_gib": 1, "host": "dctest-hv1"}
    response = world.api.call("POST", "/v1/servers", role="operator", json=body)
    assert response.status_code == 409
    assert "maintenance window" in response.json()["detail"]


def test_with_every_host_drained_creation_is_a_409_naming_the_drain(world: World) -> None:
    _drain_now(world, ["dctest-hv1", "dctest-hv2"])
    body = {"name": "dctest-nowhere", "vcpus": 1, "memory_mib": 512, "disk_gib": 1}
    response = world.api.call("POST", "/v1/servers", role="operator", json=body)
    assert response.status_code == 409
    assert "2 drained for maintenance" in response.json()["detail"]


def test_after_the_drain_ends_the_host_takes_servers_again(world: World) -> None:
    _drain_now(world, ["dctest-hv1"])
    world.advance(seoul("2027-03-03 05:00"))
    world.api.beat("dctest-hv1")
    body = {"name": "dctest-back", "vcpus": 1, "memory_mib": 512, "disk_gib": 1, "host": "dctest-hv1"}
    assert world.api.call("POST", "/v1/servers", role="operator", json=body).status_code == 201
