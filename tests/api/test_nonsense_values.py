"""Business values that make no sense are refused with the rule they break, naming the field (issue 11)."""

from __future__ import annotations

from sqlmodel import Session

from controlplane.models.audit import AuditEvent
from controlplane.models.billing import Invoice
from controlplane.models.server import Server
from tests.utils.api import Api
from tests.utils.factories import make_contract, make_customer


def test_invoicing_with_a_future_as_of_is_refused_by_the_clock(api: Api) -> None:
    # T0 is 2027-03-02: March is not over, and passing as_of=2027-04-01 must not make it so.
    with Session(api.engine) as session:
        make_contract(session, make_customer(session))
        session.commit()
    response = api.call("POST", "/v1/invoices/run?month=2027-03&as_of=2027-04-01", role="billing")
    assert (response.status_code, response.json()["field"]) == (422, "as_of")
    assert api.count(Invoice) == 0


def test_a_server_for_a_contract_still_applied_for_is_refused(api: Api) -> None:
    api.add_host("hv1")
    with Session(api.engine, expire_on_commit=False) as session:
        contract = make_contract(session, make_customer(session), state="applied")
        session.commit()
    before = (api.count(Server), api.count(AuditEvent))
    body = {"name": "web", "vcpus": 1, "memory_mib": 1024, "disk_gib": 10, "contract_id": contract.id}
    response = api.call("POST", "/v1/servers", role="operator", json=body)
    assert (response.status_code, response.json()["field"]) == (422, "contract_id")
    assert "applied" in response.json()["detail"]
    assert (api.count(Server), api.count(AuditEvent)) == before


def test_vcpus_true_is_not_one_vcpu(api: Api) -> None:
    api.add_host("hv1")
    body = {"name": "web", "vcpus": True, "memory_mib": 1024, "disk_gib": 10}
    response = api.call("POST", "/v1/servers", role="operator", json=body)
    assert (response.status_code, response.json()["field"]) == (422, "vcpus")
    assert api.count(Server) == 0


def test_a_disclosure_for_a_future_moment_is_refused(api: Api) -> None:
    body = {
        "address": "192.0.2.10",
        "at": "2027-03-03T00:00:00+09:00",
        "request_number": "R-1",
        "agency": "경찰청",
    }
    response = api.call("POST", "/v1/disclosures", role="disclosure", json=body)
    assert (response.status_code, response.json()["field"]) == (422, "at")
