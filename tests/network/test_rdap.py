"""RDAP answers checked against the RFC 9083 field rules, plus RFC 9537 redaction for hidden fields."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from controlplane.clock import FixedClock
from controlplane.db import session_scope
from network.pools import PoolSpec, create_pool
from network.service import allocate_server_address
from tests.network.hostile import HOSTILE
from tests.utils.factories import make_contract, make_customer, make_host, make_server

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
EVENT_ACTIONS = {
    "registration", "reregistration", "last changed", "expiration", "deletion", "reinstantiation",
    "transfer", "locked", "unlocked", "last update of RDAP database",
}  # fmt: skip
REDACTION_METHODS = {"removal", "emptyValue", "partialValue", "replacementValue"}


def _check_vcard(card: Any) -> dict[str, list[Any]]:
    assert isinstance(card, list) and card[0] == "vcard" and isinstance(card[1], list)
    props: dict[str, list[Any]] = {}
    for prop in card[1]:
        name, params, value_type = prop[0], prop[1], prop[2]
        assert isinstance(name, str) and isinstance(params, dict) and isinstance(value_type, str)
        assert len(prop) >= 4
        props[name] = prop
    assert props["version"][3] == "4.0" and "fn" in props
    return props


def validate_ip_network(body: dict[str, Any]) -> None:
    """RFC 9083 sections 4 and 5.4: required members present with the right JSON types."""
    assert isinstance(body["rdapConformance"], list) and "rdap_level_0" in body["rdapConformance"]
    assert body["objectClassName"] == "ip network"
    for member in ("handle", "startAddress", "endAddress", "name", "type", "country"):
        assert isinstance(body[member], str) and body[member], member
    assert body["ipVersion"] in ("v4", "v6")
    assert re.fullmatch(r"[A-Z]{2}", body["country"])
    assert isinstance(body["status"], list) and all(isinstance(s, str) for s in body["status"])
    for event in body["events"]:
        assert event["eventAction"] in EVENT_ACTIONS and RFC3339.match(event["eventDate"])
    for link in body.get("links", []):
        assert isinstance(link["href"], str) and isinstance(link["rel"], str)
    for entity in body["entities"]:
        assert entity["objectClassName"] == "entity" and isinstance(entity["handle"], str)
        assert isinstance(entity["roles"], list) and entity["roles"]
        _check_vcard(entity["vcardArray"])
    if "redacted" in body:
        assert "redacted" in body["rdapConformance"]
        for entry in body["redacted"]:
            assert isinstance(entry["name"], dict) and (
                "type" in entry["name"] or "description" in entry["name"]
            )
            assert entry["method"] in REDACTION_METHODS


def _entity(body: dict[str, Any], role: str) -> dict[str, list[Any]]:
    return _check_vcard(next(e for e in body["entities"] if role in e["roles"])["vcardArray"])


def test_assigned_address_is_a_valid_ip_network_object(
    client: TestClient, two_holders: dict[str, str]
) -> None:
    response = client.get(f"/rdap/ip/{two_holders['public']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rdap+json")
    body = response.json()
    validate_ip_network(body)
    assert (body["startAddress"], body["endAddress"]) == (two_holders["public"], two_holders["public"])
    assert body["ipVersion"] == "v4" and body["country"] == "KR" and "redacted" not in body
    assert {r for e in body["entities"] for r in e["roles"]} == {"registrant", "administrative", "abuse"}
    registrant = _entity(body, "registrant")
    assert registrant["fn"][3] == "Example Cloud Co., Ltd." and registrant["tel"][3] == "tel:+82-2-555-0100"
    assert [e["eventAction"] for e in body["events"]] == ["registration", "last changed"]


def test_hidden_fields_are_replaced_and_marked_redacted(
    client: TestClient, two_holders: dict[str, str]
) -> None:
    body = client.get(f"/rdap/ip/{two_holders['private']}").json()
    validate_ip_network(body)
    text = str(body)
    assert "홍길동" not in text and "Hong Gildong" not in text and "010-9999-0000" not in text
    registrant = _entity(body, "registrant")
    assert registrant["fn"][3] == "Private customer of D-Cloud"
    assert registrant["adr"][1]["label"] == "경기도 성남시 분당구"
    names = {entry["name"]["type"] for entry in body["redacted"]}
    assert {"Registrant Name", "Registrant Street", "Registrant Phone"} <= names


def test_prefix_query_inside_a_pool_returns_the_pool(client: TestClient, two_holders: dict[str, str]) -> None:
    body = client.get("/rdap/ip/192.0.2.0/25").json()
    validate_ip_network(body)
    assert (body["startAddress"], body["endAddress"]) == ("192.0.2.0", "192.0.2.255")
    assert body["type"] == "ALLOCATED PA"


@pytest.mark.parametrize("path", ["/rdap/ip/203.0.113.9", "/rdap/ip/198.51.100.0/24", "/rdap/ip/2001:db8::1"])
def test_unknown_range_is_404_with_an_rdap_error_body(
    client: TestClient, two_holders: dict[str, str], path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/rdap+json")
    body = response.json()
    assert (
        body["errorCode"] == 404 and isinstance(body["title"], str) and isinstance(body["description"], list)
    )


@pytest.mark.parametrize(
    "path", ["/rdap/ip/192.0.2", "/rdap/ip/192.0.2.0/33", "/rdap/ip/banana", "/rdap/ip/1.2.3.4/x"]
)
def test_malformed_query_is_400(client: TestClient, two_holders: dict[str, str], path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.json()["errorCode"] == 400


def test_ipv6_assignment(client: TestClient, sqlite_engine: Engine, clock: FixedClock) -> None:
    with session_scope(sqlite_engine) as s:
        create_pool(s, spec=PoolSpec(name="v6", cidr="2001:db8:10::/64", network_name="n"), at=clock())
        host = make_host(s)
        lease = allocate_server_address(
            s, server=make_server(s, host, make_contract(s, make_customer(s))), at=clock()
        )
        assert lease is not None
    assert lease.address == "2001:db8:10::1"
    body = client.get("/rdap/ip/2001:db8:10:0:0:0:0:1").json()  # any notation finds the canonical record
    validate_ip_network(body)
    assert body["ipVersion"] == "v6" and body["startAddress"] == body["endAddress"] == "2001:db8:10::1"
    pool = client.get("/rdap/ip/2001:db8:10::/64").json()
    assert (
        pool["type"] == "ALLOCATED PA" and pool["endAddress"] == "2001:db8:10:0:ffff:ffff:ffff:ffff"
    )  # RFC 5952: one zero group stays


def test_control_and_bidi_characters_never_reach_the_client_raw(
    client: TestClient, hostile_holder: str
) -> None:
    response = client.get(f"/rdap/ip/{hostile_holder}")
    assert response.status_code == 200
    wire = response.content.decode("utf-8")
    for ch in HOSTILE:
        if not ch.isprintable():
            assert ch not in wire, f"U+{ord(ch):04X} reached the client raw"
    registrant = _entity(response.json(), "registrant")
    assert registrant["org"][3] == f"name{HOSTILE}"  # escaped on the wire, the same value decoded
