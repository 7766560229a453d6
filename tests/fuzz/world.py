"""A small store with one real row of every kind the API's paths name, seeded through the API itself.

Schemathesis draws path ids from the declared ranges (1..2^31-1); against an empty store every one of
them is a 404 and the routes behind it never run. `RealIds` lists the ids seeded here so that part of
the generated requests reach a real host, server, contract, invoice, payment, dispute, block, ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from tests.utils.api import Api
from tests.utils.factories import make_contract, make_customer


@dataclass(frozen=True)
class RealIds:
    """Path parameter name -> the values that name a seeded row."""

    values: dict[str, tuple[Any, ...]]


def _post(api: Api, path: str, role: str = "admin", **kwargs: Any) -> dict[str, Any]:
    response = api.call("POST", path, role=role, **kwargs)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _billed_contracts(api: Api) -> tuple[dict[str, Any], ...]:
    """Two customers with contracts running since January (the API opens only future ones), so
    February is billable."""
    with Session(api.engine, expire_on_commit=False) as session:
        first, second = make_customer(session), make_customer(session, name="둘째 고객")
        rows = (first, second, make_contract(session, first), make_contract(session, second))
        session.commit()
        return tuple(row.model_dump() for row in rows)


def seed_world(api: Api) -> RealIds:
    """Two customers, active contracts (one with a server), an applied one, an invoice, a payment, a
    dispute, a block, a proposed termination, an outage, an address pool, a usage request, a token."""
    host = api.add_host("hv1")
    pool_body = {"name": "pub", "cidr": "192.0.2.0/24", "network_name": "dctest-net", "gateway": "192.0.2.1"}
    pool = _post(api, "/v1/pools", json=pool_body)
    first, second, contract, other = _billed_contracts(api)
    opening = {"plan": "std-1", "monthly_fee": 50_000, "desired_open_date": "2027-04-01"}
    applied = _post(api, "/v1/contracts", "billing", json={"customer_id": first["id"], **opening})
    server = api.add_server("web", contract_id=contract["id"])
    bare = api.add_server("bare")
    _post(api, "/v1/invoices/run", "billing", params={"month": "2027-02"})
    invoices = api.call("GET", f"/v1/contracts/{contract['id']}/invoices", role="billing").json()
    invoice_id = invoices[0]["id"]
    paid = {"customer_id": first["id"], "amount": 1000, "reference": "seed"}
    payment = _post(api, "/v1/payments", "billing", headers={"Idempotency-Key": "seed"}, json=paid)
    disputed = {"amount": 500, "reason": "seed dispute"}
    dispute = _post(api, f"/v1/invoices/{invoice_id}/disputes", "billing", json=disputed)
    blocked = {"kind": "spam", "item": 1, "reason": "seed", "notice": "after", "notice_after_reason": "seed"}
    block = _post(api, f"/v1/contracts/{contract['id']}/blocks", "operator", json=blocked)
    ending = {"kind": "ex_officio", "reason": "seed termination"}
    termination = _post(api, f"/v1/contracts/{other['id']}/terminations", "billing", json=ending)
    down = {"started_at": "2027-03-01T00:00:00+09:00", "reported_at": "2027-03-01T00:10:00+09:00"}
    outage = _post(api, "/v1/outages", "operator", json={"contract_id": contract["id"], **down})
    usage = _post(api, "/v1/usage-requests", "operator", json={"customer_id": first["id"], "reason": "seed"})
    spare = _post(api, "/v1/tokens", json={"name": "spare", "role": "auditor"})
    return RealIds(
        values={
            "host": (host,),
            "server_id": (server["id"], bare["id"]),
            "customer_id": (first["id"], second["id"]),
            "contract_id": (contract["id"], other["id"], applied["id"]),
            "invoice_id": (invoice_id,),
            "payment_id": (payment["id"],),
            "dispute_id": (dispute["id"],),
            "block_id": (block["id"],),
            "termination_id": (termination["id"],),
            "outage_id": (outage["id"],),
            "pool_id": (pool["id"],),
            "request_id": (usage["id"],),
            "token_id": (spare["id"],),
            "version": ("2025-01",),
            "ip": ("192.0.2.2", "192.0.2.3"),
            "address": ("192.0.2.2",),
            "prefix": ("192.0.2.0",),
            "length": ("24",),
        }
    )
