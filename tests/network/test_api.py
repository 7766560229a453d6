"""The network API as a user sees it: pools, history, export, disclosure (Art. 24(5)), usage requests."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from controlplane.clock import FixedClock
from controlplane.db import session_scope
from network.models import AddressPool, Disclosure
from network.service import allocate_server_address, release_server_addresses
from tests.utils.factories import make_contract, make_customer, make_host, make_server

POOL = {"name": "pub1", "cidr": "192.0.2.0/24", "network_name": "dctest-net", "gateway": "192.0.2.1"}
Headers = dict[str, dict[str, str]]


def _pool_count(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(AddressPool)).one())


def _lease_for_customer(engine: Engine, clock: FixedClock, **customer: object) -> tuple[str, str]:
    """A server of a new customer holding an address; returns (server id, address)."""
    with session_scope(engine) as s:
        host = make_host(s, f"hv-{customer.get('name', 'x')}"[:60])
        server = make_server(s, host, make_contract(s, make_customer(s, **customer)))
        lease = allocate_server_address(s, server=server, at=clock())
        assert lease is not None
        return server.id, lease.address


def test_create_and_list_pool_with_utilisation(client: TestClient, tokens: Headers) -> None:
    created = client.post("/v1/pools", json=POOL, headers=tokens["operator"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["cidr"] == "192.0.2.0/24" and body["ip_version"] == 4
    assert {"192.0.2.0", "192.0.2.1", "192.0.2.255"} <= set(body["reserved"])
    listed = client.get("/v1/pools", headers=tokens["auditor"]).json()
    assert [p["name"] for p in listed] == ["pub1"]
    use = client.get(f"/v1/pools/{body['id']}/utilisation", headers=tokens["operator"]).json()
    assert use == {"pool_id": body["id"], "size": 253, "assigned": 0, "quarantined": 0, "free": 253}


def test_pool_routes_need_a_token_and_the_operator_role(client: TestClient, tokens: Headers) -> None:
    assert client.post("/v1/pools", json=POOL).status_code == 401
    assert client.post("/v1/pools", json=POOL, headers=tokens["billing"]).status_code == 403
    assert client.post("/v1/pools", json=POOL, headers=tokens["auditor"]).status_code == 403
    assert client.get("/v1/pools", headers=tokens["agent"]).status_code == 403


def test_overlapping_pool_is_409_and_nothing_is_created(
    client: TestClient, tokens: Headers, sqlite_engine: Engine
) -> None:
    assert client.post("/v1/pools", json=POOL, headers=tokens["operator"]).status_code == 201
    clash = client.post(
        "/v1/pools",
        json=POOL | {"name": "inner", "cidr": "192.0.2.128/25", "gateway": None},
        headers=tokens["operator"],
    )
    assert clash.status_code == 409
    assert clash.json()["field"] == "cidr" and "overlaps" in clash.json()["detail"]
    assert _pool_count(sqlite_engine) == 1


def test_malformed_pool_input_is_422_naming_the_field(
    client: TestClient, tokens: Headers, sqlite_engine: Engine
) -> None:
    cases = [
        ({"cidr": "192.0.2.0/33"}, "cidr"),
        ({"cidr": "not-a-network"}, "cidr"),
        ({"cidr": "192.0.2.7/24"}, "cidr"),  # host bits set
        ({"cidr": "192.0.2.0"}, "cidr"),  # no prefix length
        ({"gateway": "2001:db8::1"}, "gateway"),  # IPv6 gateway in an IPv4 pool
        ({"reserved": ["2001:db8::5"]}, "reserved"),  # IPv6 address in an IPv4 pool
        ({"reserved": ["198.51.100.1"]}, "reserved"),  # outside the pool
    ]
    for change, field in cases:
        response = client.post("/v1/pools", json=POOL | change, headers=tokens["operator"])
        assert response.status_code == 422, (change, response.text)
        assert response.json()["field"] == field, (change, response.json())
    assert _pool_count(sqlite_engine) == 0


def test_ipv6_pool(client: TestClient, tokens: Headers) -> None:
    v6 = {"name": "v6", "cidr": "2001:db8:10::/64", "network_name": "dctest-net", "gateway": "2001:db8:10::1"}
    response = client.post("/v1/pools", json=v6, headers=tokens["operator"])
    assert response.status_code == 201, response.text
    assert response.json()["ip_version"] == 6


def test_history_shows_every_holder_after_termination(
    client: TestClient, tokens: Headers, sqlite_engine: Engine, clock: FixedClock
) -> None:
    client.post("/v1/pools", json=POOL, headers=tokens["operator"])
    server_id, address = _lease_for_customer(sqlite_engine, clock, name="첫째고객")
    clock.advance(days=10)
    with session_scope(sqlite_engine) as s:
        release_server_addresses(s, server_id=server_id, at=clock())
    response = client.get(f"/v1/addresses/{address}/history", headers=tokens["auditor"])
    assert response.status_code == 200
    holders = response.json()["holders"]
    assert len(holders) == 1
    assert holders[0]["customer_name"] == "첫째고객" and holders[0]["server_id"] == server_id
    assert holders[0]["released_at"] is not None
    bad = client.get("/v1/addresses/999.1.1.1/history", headers=tokens["auditor"])
    assert bad.status_code == 422 and bad.json()["field"] == "ip"


def test_csv_export_lists_current_assignments(
    client: TestClient, tokens: Headers, sqlite_engine: Engine, clock: FixedClock
) -> None:
    client.post("/v1/pools", json=POOL, headers=tokens["operator"])
    _, address = _lease_for_customer(sqlite_engine, clock, name="=HYPERLINK(evil)")
    response = client.get("/v1/addresses/export.csv", headers=tokens["operator"])
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["address"] for r in rows] == [address]
    assert rows[0]["customer_name"] == "'=HYPERLINK(evil)"  # formula neutralised


def test_disclosure_returns_exactly_three_fields_and_logs_itself(
    client: TestClient, tokens: Headers, sqlite_engine: Engine, clock: FixedClock
) -> None:
    client.post("/v1/pools", json=POOL, headers=tokens["operator"])
    _, address = _lease_for_customer(
        sqlite_engine, clock, name="비밀상회", contact_name="이담당", contact_phone="010-1234-5678"
    )
    ask = {
        "address": address,
        "at": "2027-03-01T12:00:00+09:00",
        "request_number": "2027-수사-17",
        "agency": "경찰청",
    }
    response = client.post("/v1/disclosures", json=ask, headers=tokens["disclosure"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "customer_name": "비밀상회",
        "contact_name": "이담당",
        "contact_phone": "010-1234-5678",
    }
    log = client.get("/v1/disclosures", headers=tokens["auditor"]).json()
    assert len(log) == 1
    assert log[0]["request_number"] == "2027-수사-17" and log[0]["agency"] == "경찰청"
    assert log[0]["requested_by"].startswith("disclosure:") and log[0]["returned"] == response.json()


def test_disclosure_needs_its_own_role(client: TestClient, tokens: Headers, sqlite_engine: Engine) -> None:
    ask = {"address": "192.0.2.2", "at": "2027-03-01T00:00:00Z", "request_number": "1", "agency": "x"}
    for role in ("operator", "auditor", "admin", "billing"):
        assert client.post("/v1/disclosures", json=ask, headers=tokens[role]).status_code == 403, role
    assert client.post("/v1/disclosures", json=ask).status_code == 401
    assert client.get("/v1/disclosures", headers=tokens["disclosure"]).status_code == 403
    with Session(sqlite_engine) as s:
        assert s.exec(select(func.count()).select_from(Disclosure)).one() == 0


def test_disclosure_before_the_lease_finds_nobody_but_is_logged(
    client: TestClient, tokens: Headers, sqlite_engine: Engine, clock: FixedClock
) -> None:
    client.post("/v1/pools", json=POOL, headers=tokens["operator"])
    _, address = _lease_for_customer(sqlite_engine, clock, name="늦게온고객")
    ask = {"address": address, "at": "2027-02-01T00:00:00Z", "request_number": "R-1", "agency": "검찰청"}
    response = client.post("/v1/disclosures", json=ask, headers=tokens["disclosure"])
    assert response.status_code == 404
    log = client.get("/v1/disclosures", headers=tokens["admin"]).json()
    assert len(log) == 1 and log[0]["returned"] is None


def test_disclosure_bad_input(client: TestClient, tokens: Headers) -> None:
    base = {"address": "192.0.2.2", "at": "2027-03-01T00:00:00Z", "request_number": "1", "agency": "x"}
    for change in ({"address": "192.0.2"}, {"at": "2027-03-01T00:00:00"}, {"request_number": ""}):
        response = client.post("/v1/disclosures", json=base | change, headers=tokens["disclosure"])
        assert response.status_code == 422, (change, response.text)


def test_usage_information_request_records_the_addresses_and_the_answer(
    client: TestClient, tokens: Headers, sqlite_engine: Engine, clock: FixedClock
) -> None:
    client.post("/v1/pools", json=POOL, headers=tokens["operator"])
    _lease_for_customer(sqlite_engine, clock, name="사용정보고객")
    with Session(sqlite_engine) as s:
        from controlplane.models import Customer

        customer_id = s.exec(select(Customer.id).where(Customer.name == "사용정보고객")).one()
    created = client.post(
        "/v1/usage-requests",
        json={"customer_id": customer_id, "reason": "spam report"},
        headers=tokens["operator"],
    )
    assert created.status_code == 201, created.text
    assert created.json()["addresses"] == ["192.0.2.2"]
    answered = client.post(
        f"/v1/usage-requests/{created.json()['id']}/response",
        json={"response": "mail relay for our shop"},
        headers=tokens["operator"],
    )
    assert answered.json()["response"] == "mail relay for our shop" and answered.json()["responded_at"]
    missing = client.post(
        "/v1/usage-requests", json={"customer_id": 999, "reason": "x"}, headers=tokens["operator"]
    )
    assert missing.status_code == 404
