"""Art. 35(1),(2): disputes filed within 15 days of the invoice being sent stop the clock for the disputed
part; an answer within 7 days upholds (restriction never before 7 full days after it) or corrects."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.db import session_scope
from controlplane.models import Contract, Invoice, Server
from controlplane.services.enforcement import sweep as enforcement
from tests.utils.api import Api, make_api
from tests.utils.factories import make_invoice, make_world, noon

SENT = datetime(2027, 2, 5, 1, 0, tzinfo=UTC)  # 10:00 in Seoul: the 15 days are Feb 6 .. Feb 20
DUE = date(2027, 2, 28)


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    return make_api(sqlite_engine)


def _invoice(api: Api) -> tuple[int, int]:
    with session_scope(api.engine) as session:
        contract, _ = make_world(session)
        invoice = make_invoice(session, contract, due=DUE)
        invoice.sent_at = SENT
        session.add(invoice)
        session.flush()
        return contract.id or 0, invoice.id or 0


def _file(api: Api, invoice_id: int, on: date, amount: int = 110_000) -> Any:
    api.clock.now = noon(on)
    return api.call(
        "POST",
        f"/v1/invoices/{invoice_id}/disputes",
        role="billing",
        json={"amount": amount, "reason": "the server was never used"},
    )


def _answer(api: Api, dispute_id: int, on: date, **body: object) -> Any:
    api.clock.now = noon(on)
    return api.call(
        "POST",
        f"/v1/disputes/{dispute_id}/answer",
        role="billing",
        json={"answer": "checked the usage records", **body},
    )


def _sweep(api: Api, day: date) -> None:
    with Session(api.engine) as session:
        actions = enforcement.plan(session, day, now=noon(day))
    enforcement.apply(api.engine, actions, day, "system:sweep", now=noon(day))


def _state(api: Api, contract_id: int) -> str:
    with Session(api.engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        return contract.state


def test_dispute_is_accepted_through_the_15th_day_after_the_invoice_was_sent(api: Api) -> None:
    _, invoice_id = _invoice(api)
    response = _file(api, invoice_id, date(2027, 2, 20))
    assert response.status_code == 201, response.text
    assert response.json()["answer_due_on"] == "2027-02-27"


def test_dispute_on_the_16th_day_after_the_invoice_was_sent_is_refused(api: Api) -> None:
    _, invoice_id = _invoice(api)
    response = _file(api, invoice_id, date(2027, 2, 21))
    assert response.status_code == 422 and response.json()["field"] == "invoice_id"


def test_open_dispute_of_the_whole_invoice_keeps_the_service_on_its_restriction_day(api: Api) -> None:
    contract_id, invoice_id = _invoice(api)
    assert _file(api, invoice_id, date(2027, 2, 20)).status_code == 201
    _sweep(api, date(2027, 3, 31))  # due + 31
    assert _state(api, contract_id) == "active"


def test_dispute_of_part_of_the_invoice_leaves_the_rest_on_the_regular_day(api: Api) -> None:
    contract_id, invoice_id = _invoice(api)
    assert _file(api, invoice_id, date(2027, 2, 20), amount=10_000).status_code == 201
    _sweep(api, date(2027, 3, 31))
    assert _state(api, contract_id) == "restricted"


def test_upheld_dispute_restricts_no_earlier_than_7_full_days_after_the_answer(api: Api) -> None:
    contract_id, invoice_id = _invoice(api)
    dispute_id = _file(api, invoice_id, date(2027, 2, 20)).json()["id"]
    answered = _answer(api, dispute_id, date(2027, 3, 30), outcome="upheld")
    assert answered.status_code == 200, answered.text
    assert answered.json()["restrict_not_before"] == "2027-04-07"
    _sweep(api, date(2027, 4, 6))
    assert _state(api, contract_id) == "active"
    _sweep(api, date(2027, 4, 7))
    assert _state(api, contract_id) == "restricted"


def test_corrected_dispute_issues_a_credit_note_and_nothing_is_restricted(api: Api) -> None:
    contract_id, invoice_id = _invoice(api)
    dispute_id = _file(api, invoice_id, date(2027, 2, 20)).json()["id"]
    answered = _answer(api, dispute_id, date(2027, 2, 25), outcome="corrected", corrected_amount=110_000)
    assert answered.status_code == 200, answered.text
    _sweep(api, date(2027, 4, 30))
    assert _state(api, contract_id) == "active"
    with Session(api.engine) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None and invoice.total == 0 and invoice.paid_in_full_at is not None
        servers = session.exec(select(Server).where(Server.contract_id == contract_id)).all()
        assert {s.desired_state for s in servers} == {"running"}


def test_unanswered_dispute_near_its_7th_day_is_in_the_plan_and_in_metrics(api: Api) -> None:
    _, invoice_id = _invoice(api)
    _file(api, invoice_id, date(2027, 2, 20))
    with Session(api.engine) as session:
        plan = enforcement.plan(session, date(2027, 2, 26), now=noon(date(2027, 2, 26)))
    due = [a for a in plan if a.kind == "dispute_answer_due"]
    assert due and due[0].deadline == date(2027, 2, 27) and not due[0].automatic
    api.clock.now = noon(date(2027, 2, 26))
    metrics = api.call("GET", "/metrics", role=None).text
    assert 'dcloud_disputes_open{due="due_within_1_day"} 1.0' in metrics


def test_answering_twice_is_refused(api: Api) -> None:
    _, invoice_id = _invoice(api)
    dispute_id = _file(api, invoice_id, date(2027, 2, 20)).json()["id"]
    assert _answer(api, dispute_id, date(2027, 2, 25), outcome="upheld").status_code == 200
    again = _answer(api, dispute_id, date(2027, 2, 26), outcome="upheld")
    assert again.status_code == 409
