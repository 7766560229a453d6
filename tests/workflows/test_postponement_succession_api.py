"""Open-date postponement (Art. 9(2)) and legal succession (Art. 19) through the API, with their
deadlines counted as TERMS-MAP says (a named day before the open date; 30 days after the event)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, select

from controlplane.models import Contract, Invoice
from controlplane.models.audit import AuditEvent
from tests.utils.api import Api
from tests.utils.factories import make_customer, make_invoice
from tests.utils.workflows import contract_with_servers


def _seoul_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)


def _postpone(api: Api, contract_id: int, new: str = "2027-03-20") -> Any:
    body = {"new_open_date": new, "reason": "rack not ready"}
    return api.call("POST", f"/v1/contracts/{contract_id}/postpone-open-date", role="billing", json=body)


def _approved(api: Api, open_date: date) -> int:
    contract_id, _ = contract_with_servers(
        api, servers=0, state="approved", desired_open_date=open_date, term_start=None, term_end=None
    )
    return contract_id


def test_postponement_on_the_third_day_before_the_open_date_is_accepted(api: Api) -> None:
    contract_id = _approved(api, date(2027, 3, 10))
    api.clock.now = _seoul_noon(date(2027, 3, 7))  # O-3
    response = _postpone(api, contract_id)
    assert response.status_code == 200, response.text
    assert response.json()["desired_open_date"] == "2027-03-20"


def test_postponement_on_the_second_day_before_the_open_date_is_refused(api: Api) -> None:
    contract_id = _approved(api, date(2027, 3, 10))
    api.clock.now = _seoul_noon(date(2027, 3, 8))  # O-2
    response = _postpone(api, contract_id)
    assert response.status_code == 409 and "2027-03-07" in response.text


def test_postponement_after_the_service_opened_is_refused(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)  # active since 2027-01-01
    assert _postpone(api, contract_id).status_code == 409


def _successor(api: Api) -> int:
    with Session(api.engine) as session:
        customer = make_customer(session, name="승계회사", email="new@example.kr")
        session.commit()
        return customer.id or 0


def _succeed(api: Api, contract_id: int, successor: int, event_on: str = "2027-02-20") -> Any:
    body = {"to_customer_id": successor, "kind": "merger", "event_on": event_on}
    return api.call("POST", f"/v1/contracts/{contract_id}/successions", role="billing", json=body)


def _with_invoice(api: Api, paid: bool) -> tuple[int, list[str]]:
    contract_id, ids = contract_with_servers(api, servers=1)
    with Session(api.engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        invoice = make_invoice(session, contract, paid=110_000 if paid else 0)
        if paid:
            invoice.paid_in_full_at = datetime(2027, 2, 20, tzinfo=UTC)
        session.commit()
    return contract_id, ids


def test_succession_with_a_fee_unpaid_before_the_event_is_refused(api: Api) -> None:
    contract_id, _ = _with_invoice(api, paid=False)
    successor = _successor(api)
    response = _succeed(api, contract_id, successor)
    assert response.status_code == 409 and "Art. 19(3)" in response.text
    assert api.call("GET", f"/v1/contracts/{contract_id}").json()["customer_id"] != successor


def test_succession_is_accepted_once_the_fee_is_paid(api: Api) -> None:
    contract_id, _ = _with_invoice(api, paid=False)
    successor = _successor(api)
    assert _succeed(api, contract_id, successor).status_code == 409
    with Session(api.engine) as session:
        customer_id = session.get(Contract, contract_id).customer_id  # type: ignore[union-attr]
    pay = {"customer_id": customer_id, "amount": 110_000, "idempotency_key": "succ-1"}
    assert api.call("POST", "/v1/payments", role="billing", json=pay).status_code in (200, 201)
    response = _succeed(api, contract_id, successor)
    assert response.status_code == 201, response.text
    assert response.json()["filing_deadline"]["expires_end_of"] == "2027-03-22"


def test_an_accepted_succession_moves_the_contract_and_keeps_its_history(api: Api) -> None:
    contract_id, ids = _with_invoice(api, paid=True)
    successor = _successor(api)
    assert _succeed(api, contract_id, successor).status_code == 201
    assert api.call("GET", f"/v1/contracts/{contract_id}").json()["customer_id"] == successor
    server = api.call("GET", f"/v1/servers/{ids[0]}", role="operator").json()
    assert server["contract_id"] == contract_id
    with Session(api.engine) as session:
        invoices = session.exec(select(Invoice).where(Invoice.contract_id == contract_id)).all()
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "succession")).all()
    assert len(invoices) == 1 and [a.clause for a in audit] == ["Art. 19"]


def test_succession_filed_on_the_30th_day_after_the_event_is_accepted(api: Api) -> None:
    contract_id, _ = _with_invoice(api, paid=True)
    api.clock.now = _seoul_noon(date(2027, 3, 22))  # event 02-20 not counted: 02-21 … 03-22
    assert _succeed(api, contract_id, _successor(api)).status_code == 201


def test_succession_filed_on_the_31st_day_after_the_event_is_refused(api: Api) -> None:
    contract_id, _ = _with_invoice(api, paid=True)
    api.clock.now = _seoul_noon(date(2027, 3, 23))
    response = _succeed(api, contract_id, _successor(api))
    assert response.status_code == 409 and "2027-03-22" in response.text


def test_an_address_agreement_is_recorded_with_who_when_and_how_many(api: Api) -> None:
    contract_id, _ = contract_with_servers(api, servers=0)
    body = {"extra_addresses": 2, "agreed_by": "Kim, CTO", "agreed_at": "2027-03-01T01:00:00+00:00"}
    response = api.call("POST", f"/v1/contracts/{contract_id}/address-agreements", role="billing", json=body)
    assert response.status_code == 201, response.text
    with Session(api.engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        assert (contract.extra_addresses_allowed, contract.extra_addresses_approved_by) == (2, "Kim, CTO")
