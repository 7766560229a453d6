"""Art. 10(4) on the network routes: address history, the registry export and disclosures are staff
reads of customers' personal data, each audited with the fields it showed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.clock import FixedClock
from controlplane.db import session_scope
from controlplane.models.audit import AuditEvent
from controlplane.personal_data import PERSONAL_DATA_READ
from network.service import allocate_server_address
from tests.utils.factories import make_contract, make_customer, make_host, make_server

POOL = {"name": "pub1", "cidr": "192.0.2.0/24", "network_name": "dctest-net", "gateway": "192.0.2.1"}
Headers = dict[str, dict[str, str]]


def _holder(engine: Engine, clock: FixedClock) -> tuple[int, str]:
    with session_scope(engine) as s:
        customer = make_customer(s, name="비밀상회")
        server = make_server(s, make_host(s, "hv-pd"), make_contract(s, customer))
        lease = allocate_server_address(s, server=server, at=clock())
        assert lease is not None and customer.id is not None
        return customer.id, lease.address


def _reads(engine: Engine) -> list[tuple[str, str, list[str], str]]:
    with Session(engine) as s:
        rows = s.exec(select(AuditEvent).where(AuditEvent.action == PERSONAL_DATA_READ)).all()
        return [
            (e.actor.split(":")[0], e.entity_id, (e.after or {})["fields"], (e.after or {})["via"])
            for e in rows
        ]


def test_address_history_and_export_audit_the_holders_name(
    client: TestClient, tokens: Headers, sqlite_engine: Engine, clock: FixedClock
) -> None:
    client.post("/v1/pools", json=POOL, headers=tokens["operator"])
    customer_id, address = _holder(sqlite_engine, clock)
    assert client.get(f"/v1/addresses/{address}/history", headers=tokens["auditor"]).status_code == 200
    assert client.get("/v1/addresses/export.csv", headers=tokens["operator"]).status_code == 200
    assert _reads(sqlite_engine) == [
        ("auditor", str(customer_id), ["name"], f"GET /v1/addresses/{address}/history"),
        ("operator", str(customer_id), ["name"], "GET /v1/addresses/export.csv"),
    ]


def test_a_disclosure_and_reading_the_disclosure_log_are_audited(
    client: TestClient, tokens: Headers, sqlite_engine: Engine, clock: FixedClock
) -> None:
    client.post("/v1/pools", json=POOL, headers=tokens["operator"])
    customer_id, address = _holder(sqlite_engine, clock)
    ask = {"address": address, "at": "2027-03-01T12:00:00+09:00", "request_number": "r-1", "agency": "경찰청"}
    assert client.post("/v1/disclosures", json=ask, headers=tokens["disclosure"]).status_code == 200
    assert client.get("/v1/disclosures", headers=tokens["auditor"]).status_code == 200
    fields = ["contact_name", "contact_phone", "name"]
    assert _reads(sqlite_engine) == [
        ("disclosure", str(customer_id), fields, "POST /v1/disclosures"),
        ("auditor", str(customer_id), fields, "GET /v1/disclosures"),
    ]
