"""Customers and contracts over the API: validation, Art. 8 holds, approval notice, activation, audit."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.models import AuditEvent, Contract, Customer, Invoice, Notice
from tests.utils.api import Api, make_api

CUSTOMER = {
    "name": "주식회사 예시클라우드",
    "email": "billing@example.kr",
    "sms_phone": "010-1234-5678",
    "address": "서울특별시 강남구 테헤란로 123",
    "contact_name": "김담당",
    "contact_phone": "02-555-0101",
}


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    return make_api(sqlite_engine)


def new_customer(api: Api, **overrides: Any) -> int:
    response = api.call("POST", "/v1/customers", role="billing", json={**CUSTOMER, **overrides})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def apply(api: Api, customer_id: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "plan": "std-2",
        "monthly_fee": 100_000,
        "discount": 10_000,
        "desired_open_date": "2027-03-10",
        **overrides,
    }
    response = api.call("POST", "/v1/contracts", role="billing", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def audit_actions(api: Api, contract_id: int) -> list[tuple[str, str | None]]:
    with Session(api.engine) as session:
        rows = session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "contract", AuditEvent.entity_id == str(contract_id))
            .order_by(col(AuditEvent.id))
        ).all()
        return [(r.action, r.clause) for r in rows]


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("contact_phone", "call me"), ("name", "x" * 201), ("sms_phone", "12")],
)
def test_bad_customer_input_is_422_naming_the_field_and_writes_nothing(
    api: Api, field: str, value: str
) -> None:
    response = api.call("POST", "/v1/customers", role="billing", json={**CUSTOMER, field: value})

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert api.count(Customer) == 0


def test_auditor_reads_but_cannot_register_customers(api: Api) -> None:
    customer_id = new_customer(api)

    assert api.call("GET", f"/v1/customers/{customer_id}", role="auditor").status_code == 200
    assert api.call("POST", "/v1/customers", role="auditor", json=CUSTOMER).status_code == 403


def test_application_is_pinned_to_the_current_terms_version_and_audited(api: Api) -> None:
    contract = apply(api, new_customer(api))

    assert contract["state"] == "applied"
    assert contract["terms_version"] == "2025-01"
    assert audit_actions(api, contract["id"]) == [("apply", "Art. 5, Art. 6")]


def test_discount_above_fee_is_422_on_discount_and_nothing_written(api: Api) -> None:
    customer_id = new_customer(api)
    body = {
        "customer_id": customer_id,
        "plan": "p",
        "monthly_fee": 1000,
        "discount": 2000,
        "desired_open_date": "2027-03-10",
    }

    response = api.call("POST", "/v1/contracts", role="billing", json=body)

    assert (response.status_code, response.json()["field"]) == (422, "discount")
    assert api.count(Contract) == 0


def test_minor_applicant_is_held_under_art_8_9(api: Api) -> None:
    contract = apply(api, new_customer(api, kind="person", is_minor=True))

    assert contract["state"] == "held"
    assert "Art. 8(9)" in contract["state_reason"]
    assert audit_actions(api, contract["id"])[-1] == ("hold", "Art. 8(9)")


def test_past_delinquency_is_held_under_art_8_7(api: Api) -> None:
    contract = apply(api, new_customer(api, has_delinquency_record=True))

    assert contract["state"] == "held"
    assert audit_actions(api, contract["id"])[-1] == ("hold", "Art. 8(7)")


def test_unpaid_balance_on_another_contract_holds_under_art_8_6(api: Api) -> None:
    customer_id = new_customer(api)
    first = apply(api, customer_id)
    with Session(api.engine) as session:
        session.add(
            Invoice(
                contract_id=first["id"],
                month=date(2027, 1, 1),
                issued_at=api.clock(),
                send_by=date(2027, 2, 10),
                due_date=date(2027, 2, 28),
                supply_amount=100,
                vat_amount=10,
                total=110,
            )
        )
        session.commit()

    second = apply(api, customer_id)

    assert second["state"] == "held"
    assert audit_actions(api, second["id"])[-1] == ("hold", "Art. 8(6)")


def test_operator_hold_names_the_art_8_item(api: Api) -> None:
    contract = apply(api, new_customer(api))

    response = api.call(
        "POST",
        f"/v1/contracts/{contract['id']}/hold",
        role="operator",
        json={"item": 3, "note": "address does not exist"},
    )

    assert response.status_code == 200
    assert response.json()["state"] == "held"
    assert audit_actions(api, contract["id"])[-1] == ("hold", "Art. 8(3)")


def test_approval_queues_the_art_7_2_notice_in_the_same_transaction(api: Api) -> None:
    contract = apply(api, new_customer(api))

    response = api.call("POST", f"/v1/contracts/{contract['id']}/approve", role="billing")

    assert response.json()["state"] == "approved"
    with Session(api.engine) as session:
        notices = session.exec(select(Notice).order_by(col(Notice.channel))).all()
    assert [(n.kind, n.clause, n.channel) for n in notices] == [
        ("approval", "Art. 7(2)", "email"),
        ("approval", "Art. 7(2)", "sms"),
    ]
    assert "2027-03-10" in notices[0].body and "90,000" not in notices[0].subject


def test_activation_starts_a_one_year_term_on_the_open_date(api: Api) -> None:
    contract = apply(api, new_customer(api))
    api.call("POST", f"/v1/contracts/{contract['id']}/approve", role="billing")

    response = api.call("POST", f"/v1/contracts/{contract['id']}/activate", role="operator", json={})

    body = response.json()
    assert (body["state"], body["term_start"], body["term_end"]) == ("active", "2027-03-10", "2028-03-09")
    assert [a for a, _ in audit_actions(api, contract["id"])] == ["apply", "approve", "open"]


def test_illegal_transition_is_409_naming_the_current_state(api: Api) -> None:
    contract = apply(api, new_customer(api))

    response = api.call("POST", f"/v1/contracts/{contract['id']}/activate", role="operator", json={})

    assert response.status_code == 409
    assert "applied" in response.json()["detail"]
    assert response.json()["field"] == "state"
    assert audit_actions(api, contract["id"]) == [("apply", "Art. 5, Art. 6")]


def test_opening_later_than_desired_needs_a_reason(api: Api) -> None:
    contract = apply(api, new_customer(api))
    api.call("POST", f"/v1/contracts/{contract['id']}/approve", role="billing")

    response = api.call(
        "POST", f"/v1/contracts/{contract['id']}/activate", role="operator", json={"open_date": "2027-03-12"}
    )

    assert (response.status_code, response.json()["field"]) == (422, "reason")
    assert api.call("GET", f"/v1/contracts/{contract['id']}", role="auditor").json()["state"] == "approved"


def test_opening_later_than_desired_notifies_the_reason_and_the_new_date(api: Api) -> None:
    contract = apply(api, new_customer(api))
    api.call("POST", f"/v1/contracts/{contract['id']}/approve", role="billing")

    response = api.call(
        "POST",
        f"/v1/contracts/{contract['id']}/activate",
        role="operator",
        json={"open_date": "2027-03-12", "reason": "rack power work"},
    )

    assert response.status_code == 200, response.text
    with Session(api.engine) as session:
        notices = session.exec(select(Notice).where(Notice.kind == "later_opening")).all()
    assert notices and all(n.clause == "Art. 9(1)" for n in notices)
    assert "2027-03-12" in notices[0].body and "rack power work" in notices[0].body


def test_invoice_preview_and_run_over_the_api(api: Api) -> None:
    contract = apply(api, new_customer(api))
    api.call("POST", f"/v1/contracts/{contract['id']}/approve", role="billing")
    api.call("POST", f"/v1/contracts/{contract['id']}/activate", role="operator", json={})
    api.clock.advance(days=30)  # 2027-04-01: March is over

    preview = api.call(
        "GET", f"/v1/contracts/{contract['id']}/invoices/preview?month=2027-03", role="auditor"
    )
    forbidden = api.call("POST", "/v1/invoices/run?month=2027-03", role="operator")
    run = api.call("POST", "/v1/invoices/run?month=2027-03", role="billing")
    rerun = api.call("POST", "/v1/invoices/run?month=2027-03", role="billing")
    invoices = api.call("GET", f"/v1/contracts/{contract['id']}/invoices", role="auditor").json()

    # Opened 2027-03-10 at 100,000 - 10,000: 22 of 31 days.
    assert preview.json()["supply_amount"] == 63_870
    assert forbidden.status_code == 403
    assert (run.json()["created"], rerun.json()["created"]) == (1, 0)
    assert len(invoices) == 1
    assert {k: invoices[0][k] for k in ("supply_amount", "vat_amount", "total")} == {
        "supply_amount": 63_870,
        "vat_amount": 6_387,
        "total": 70_257,
    }
    assert preview.json()["lines"] == invoices[0]["lines"]


def test_a_rerun_reports_the_invoices_that_already_exist(api: Api) -> None:
    contract = apply(api, new_customer(api))
    api.call("POST", f"/v1/contracts/{contract['id']}/approve", role="billing")
    api.call("POST", f"/v1/contracts/{contract['id']}/activate", role="operator", json={})
    api.clock.advance(days=30)  # 2027-04-01: March is over

    run = api.call("POST", "/v1/invoices/run?month=2027-03", role="billing").json()
    rerun = api.call("POST", "/v1/invoices/run?month=2027-03", role="billing").json()

    counts = ("considered", "created", "already_invoiced")
    assert [run[k] for k in counts] == [1, 1, 0]
    assert [rerun[k] for k in counts] == [1, 0, 1]


def test_preview_with_a_malformed_month_is_422_naming_month(api: Api) -> None:
    contract = apply(api, new_customer(api))

    response = api.call(
        "GET", f"/v1/contracts/{contract['id']}/invoices/preview?month=2027-13", role="billing"
    )

    assert (response.status_code, response.json()["field"]) == (422, "month")


def test_a_change_dated_before_a_pending_one_leaves_the_contract_at_the_later_fee(api: Api) -> None:
    from controlplane.db import session_scope
    from tests.utils.factories import make_contract, make_customer

    with session_scope(api.engine) as session:
        contract_id = make_contract(session, make_customer(session)).id
    path = f"/v1/contracts/{contract_id}/plan-changes"
    june = {"plan": "std-8", "effective_from": "2027-06-01", "monthly_fee": 300_000}
    april = {"plan": "std-4", "effective_from": "2027-04-01", "monthly_fee": 200_000}
    assert api.call("POST", path, role="billing", json=june).status_code == 201
    shown = api.call("POST", path, role="billing", json=april).json()
    assert (shown["plan"], shown["monthly_fee"]) == ("std-8", 300_000)
    assert [p["effective_from"] for p in shown["pending_plan_changes"]] == ["2027-04-01", "2027-06-01"]
    assert (
        api.call("GET", f"/v1/contracts/{contract_id}/invoices/preview?month=2027-03").json()["supply_amount"]
        == 100_000
    )


def test_each_invoice_line_names_the_plan_of_the_days_it_bills(api: Api) -> None:
    api.clock.now = api.clock.now.replace(day=1)  # applied for, and opened, on 2027-03-01
    contract_id = apply(api, new_customer(api), discount=0, desired_open_date="2027-03-01")["id"]
    assert api.call("POST", f"/v1/contracts/{contract_id}/approve", role="billing").status_code == 200
    assert (
        api.call("POST", f"/v1/contracts/{contract_id}/activate", role="operator", json={}).status_code == 200
    )
    change = {"plan": "std-4", "effective_from": "2027-04-16", "monthly_fee": 300_000}
    assert (
        api.call("POST", f"/v1/contracts/{contract_id}/plan-changes", role="billing", json=change).status_code
        == 201
    )

    def lines(month: str) -> list[tuple[str, int]]:
        preview = api.call("GET", f"/v1/contracts/{contract_id}/invoices/preview?month={month}").json()
        return [(line["description"], line["amount"]) for line in preview["lines"]]

    assert lines("2027-03") == [("std-2", 100_000)]  # not the plan that starts in April
    assert lines("2027-04") == [("std-2", 50_000), ("std-4", 150_000)]  # 15 and 15 days of 30
