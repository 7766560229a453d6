"""Addresses in the workflows: a spam complaint found by the address, extra addresses within the
agreement (Art. 24(1)), addresses following a succession (Art. 19), the firewall on the invoice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from network.models import AddressLease
from tests.utils.api import Api
from tests.utils.workflows import contract_with_servers


def _pool(api: Api) -> None:
    api.add_host("hv1")
    body = {
        "name": "dctest-pool",
        "cidr": "192.0.2.0/28",
        "network_name": "dctest-net",
        "gateway": "192.0.2.1",
    }
    assert api.call("POST", "/v1/pools", role="operator", json=body).status_code == 201


def _address_of(api: Api, server_id: str) -> str:
    with Session(api.engine) as session:
        lease = session.exec(select(AddressLease).where(AddressLease.server_id == server_id)).one()
        return lease.address


def test_a_complaint_naming_an_address_finds_the_contract_that_held_it(api: Api) -> None:
    _pool(api)
    contract_id, ids = contract_with_servers(api, servers=1)
    api.clock.advance(hours=1)
    body = {"complainant": "KISA", "received_at": api.clock().isoformat(), "evidence": "headers",
            "address": _address_of(api, ids[0])}  # fmt: skip
    complaint = api.call("POST", "/v1/spam-complaints", role="operator", json=body).json()
    assert (complaint["contract_id"], complaint["server_id"]) == (contract_id, ids[0])


def test_an_extra_address_needs_the_agreement_and_stays_within_it(api: Api) -> None:
    _pool(api)
    contract_id, ids = contract_with_servers(api, servers=1)
    path = f"/v1/servers/{ids[0]}/extra-addresses"
    assert api.call("POST", path, role="operator").status_code == 409
    body = {"extra_addresses": 1, "agreed_by": "Kim, CTO", "agreed_at": "2027-03-01T01:00:00+00:00"}
    api.call("POST", f"/v1/contracts/{contract_id}/address-agreements", role="billing", json=body)
    assert api.call("POST", path, role="operator").status_code == 201
    assert api.call("POST", path, role="operator").status_code == 409


def test_a_succession_moves_the_addresses_to_the_successor(api: Api) -> None:
    _pool(api)
    contract_id, ids = contract_with_servers(api, servers=1)
    other, _ = contract_with_servers(api, servers=0)
    successor = api.call("GET", f"/v1/contracts/{other}").json()["customer_id"]
    body = {"to_customer_id": successor, "kind": "merger", "event_on": "2027-02-20"}
    assert (
        api.call("POST", f"/v1/contracts/{contract_id}/successions", role="billing", json=body).status_code
        == 201
    )
    with Session(api.engine) as session:
        lease = session.exec(select(AddressLease).where(AddressLease.server_id == ids[0])).one()
    assert (lease.customer_id, lease.contract_id) == (successor, contract_id)


def test_the_firewall_add_on_is_billed_on_the_monthly_invoice(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    body = {"monthly_fee": 5_000, "started_on": "2027-03-01", "rules": []}
    api.call("PUT", f"/v1/contracts/{contract_id}/firewall", role="operator", json=body)
    api.clock.now = datetime(2027, 4, 2, tzinfo=UTC)
    preview = api.call("GET", f"/v1/contracts/{contract_id}/invoices/preview?month=2027-03", role="billing")
    add_ons = [ln["amount"] for ln in preview.json()["lines"] if ln["kind"] == "add_on"]
    assert add_ons == [5_000]
