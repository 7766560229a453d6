"""Payments: oldest invoice first, Art. 34 late fee on the late part, overpayment credit, refunds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.models import Contract, CreditEntry, Customer, Invoice, InvoiceLine, LateFee, Payment
from controlplane.schemas.payments import PaymentCreate
from controlplane.services.billing.credits import credit_balance, refund_credit
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.billing.payments import contract_unpaid_invoices, record_payment
from controlplane.terms.calendar import YearMonth, seoul_midnight
from tests.utils.api import make_api
from tests.utils.factories import make_contract, make_customer

MakeCustomer = Callable[..., Customer]
MakeContract = Callable[..., Contract]


def add_invoice(session: Session, contract_id: int, month: date, total: int) -> Invoice:
    ym = YearMonth.of(month)
    invoice = Invoice(
        contract_id=contract_id,
        month=month,
        issued_at=seoul_midnight(ym.next().first_day),
        send_by=ym.next().first_day.replace(day=10),
        due_date=ym.next().last_day,
        supply_amount=total,
        vat_amount=0,
        total=total,
    )
    session.add(invoice)
    session.flush()
    return invoice


def setup(
    engine: Engine, make_customer: MakeCustomer, make_contract: MakeContract, invoices: list[tuple[date, int]]
) -> tuple[int, int, list[int]]:
    with Session(engine) as session:
        customer = make_customer(session)
        contract = make_contract(session, customer, monthly_fee=100_000)
        ids = [add_invoice(session, contract.id or 0, month, total).id or 0 for month, total in invoices]
        session.commit()
        return customer.id or 0, contract.id or 0, ids


def pay(engine: Engine, customer_id: int, amount: int, on: date, key: str) -> None:
    now = seoul_midnight(on).replace(hour=10)
    with Session(engine, expire_on_commit=False) as session:
        record_payment(
            session,
            now=now,
            actor="test",
            data=PaymentCreate(customer_id=customer_id, amount=amount),
            key=key,
        )


def test_payment_settles_the_oldest_invoice_first(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    customer_id, contract_id, _ = setup(
        sqlite_engine,
        customer_factory,
        contract_factory,
        [(date(2027, 2, 1), 100_000), (date(2027, 1, 1), 100_000)],
    )

    pay(sqlite_engine, customer_id, 150_000, date(2027, 3, 5), "k1")

    with Session(sqlite_engine) as session:
        paid = {i.month: i.paid_amount for i in session.exec(select(Invoice)).all()}
        unpaid = contract_unpaid_invoices(session, contract_id, date(2027, 3, 5))
    assert paid == {date(2027, 1, 1): 100_000, date(2027, 2, 1): 50_000}
    assert [i.month for i in unpaid] == [date(2027, 2, 1)]


def test_paid_31_days_late_bills_a_1528_late_fee_next_month(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    customer_id, _, (jan,) = setup(
        sqlite_engine, customer_factory, contract_factory, [(date(2027, 1, 1), 100_000)]
    )

    pay(sqlite_engine, customer_id, 100_000, date(2027, 3, 31), "late")  # due 2027-02-28, 31 days late
    generate_invoices(
        sqlite_engine, month=YearMonth(2027, 3), as_of=date(2027, 4, 1), now=datetime(2027, 4, 1, tzinfo=UTC)
    )

    with Session(sqlite_engine) as session:
        january = session.get(Invoice, jan)
        march = session.exec(select(Invoice).where(Invoice.month == date(2027, 3, 1))).one()
        lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == march.id)).all()
    assert january is not None and january.paid_in_full_at is not None
    assert [(line.kind, line.amount, line.clause) for line in lines if line.kind == "late_fee"] == [
        ("late_fee", 1_528, "Art. 34")
    ]
    # The late fee is not a supply: VAT stays 10% of the plan fee alone.
    assert (march.supply_amount, march.vat_amount, march.total) == (100_000, 10_000, 111_528)


def test_overpayment_becomes_credit_that_offsets_the_next_invoice(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    customer_id, _contract_id, _ = setup(
        sqlite_engine, customer_factory, contract_factory, [(date(2027, 1, 1), 100_000)]
    )

    pay(sqlite_engine, customer_id, 130_000, date(2027, 2, 20), "over")
    generate_invoices(
        sqlite_engine, month=YearMonth(2027, 2), as_of=date(2027, 3, 1), now=datetime(2027, 3, 1, tzinfo=UTC)
    )

    with Session(sqlite_engine) as session:
        february = session.exec(select(Invoice).where(Invoice.month == date(2027, 2, 1))).one()
        credit_lines = session.exec(
            select(InvoiceLine).where(InvoiceLine.invoice_id == february.id, InvoiceLine.kind == "credit")
        ).all()
        balance = credit_balance(session, customer_id)
    assert [line.amount for line in credit_lines] == [-30_000]
    assert (february.vat_amount, february.total) == (10_000, 80_000)
    assert balance == 0


def test_refund_deducts_arrears_first(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    customer_id, _, (overdue,) = setup(
        sqlite_engine, customer_factory, contract_factory, [(date(2027, 1, 1), 20_000)]
    )
    with Session(sqlite_engine) as session:
        session.add(
            CreditEntry(
                customer_id=customer_id,
                amount=50_000,
                reason="overpayment",
                clause="Art. 35",
                at=datetime(2027, 1, 5, tzinfo=UTC),
            )
        )
        session.commit()

    with Session(sqlite_engine, expire_on_commit=False) as session:
        outcome = refund_credit(
            session, now=datetime(2027, 3, 10, tzinfo=UTC), actor="test", customer_id=customer_id, amount=None
        )

    assert (outcome.arrears_deducted, outcome.refunded, outcome.credit_balance) == (20_000, 30_000, 0)
    with Session(sqlite_engine) as session:
        invoice = session.get(Invoice, overdue)
        assert invoice is not None and invoice.paid_in_full_at is not None
        assert credit_balance(session, customer_id) == 0


def test_api_payment_key_repeat_returns_the_first_result(sqlite_engine: Engine) -> None:
    api = make_api(sqlite_engine)
    with Session(sqlite_engine) as session:
        customer_id = make_customer(session).id
        session.commit()
    body = {"customer_id": customer_id, "amount": 5_000}
    headers = {**api.headers("billing"), "Idempotency-Key": "pay-1"}

    first = api.client.post("/v1/payments", json=body, headers=headers)
    again = api.client.post("/v1/payments", json=body, headers=headers)
    clash = api.client.post("/v1/payments", json={**body, "amount": 6_000}, headers=headers)
    missing = api.call("POST", "/v1/payments", role="billing", json=body)

    assert (first.status_code, again.status_code, clash.status_code) == (201, 200, 409)
    assert again.json() == first.json()
    assert first.json()["credited"] == 5_000
    assert (missing.status_code, missing.json()["field"]) == (422, "Idempotency-Key")
    assert api.count(Payment) == 1


@pytest.mark.parametrize(("field", "value"), [("amount", 0), ("amount", -5), ("customer_id", "x")])
def test_api_bad_payment_is_422_naming_the_field(sqlite_engine: Engine, field: str, value: object) -> None:
    api = make_api(sqlite_engine)
    headers = {**api.headers("billing"), "Idempotency-Key": "k"}

    response = api.client.post(
        "/v1/payments", json={"customer_id": 1, "amount": 100, field: value}, headers=headers
    )

    assert (response.status_code, response.json()["field"]) == (422, field)
    assert api.count(Payment) == 0


def test_refund_without_credit_is_409(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    from controlplane.errors import Conflict

    customer_id, _, _ = setup(sqlite_engine, customer_factory, contract_factory, [])
    with Session(sqlite_engine) as session, pytest.raises(Conflict):
        refund_credit(
            session, now=datetime(2027, 3, 10, tzinfo=UTC), actor="t", customer_id=customer_id, amount=1
        )
    with Session(sqlite_engine) as session:
        assert session.exec(select(CreditEntry).order_by(col(CreditEntry.id))).all() == []


def test_a_payment_pays_only_invoices_issued_by_the_time_it_was_received(sqlite_engine: Engine) -> None:
    # The API's clock reads 2027-03-02; January's invoice was issued 2027-02-01, February's 2027-03-01.
    api = make_api(sqlite_engine)
    with Session(sqlite_engine) as session:
        customer = make_customer(session)
        customer_id, contract_id = customer.id or 0, make_contract(session, customer).id or 0
        january = add_invoice(session, contract_id, date(2027, 1, 1), 100_000).id
        february = add_invoice(session, contract_id, date(2027, 2, 1), 100_000).id
        session.commit()
    body = {
        "customer_id": customer_id,
        "contract_id": contract_id,
        "amount": 200_000,
        "received_at": "2027-02-20T10:00:00+09:00",
    }
    headers = {**api.headers("billing"), "Idempotency-Key": "before-february"}

    response = api.client.post("/v1/payments", json=body, headers=headers)

    assert response.status_code == 201, response.text
    # February's invoice did not exist on 20 February: the money was credit then (Art. 35(3)) ...
    assert (response.json()["allocations"], response.json()["credited"]) == (
        [{"invoice_id": january, "amount": 100_000}],
        100_000,
    )
    with Session(sqlite_engine) as session:
        offsets = session.exec(select(CreditEntry).where(CreditEntry.reason == "offset")).all()
        paid = {i.id: i.paid_amount for i in session.exec(select(Invoice)).all()}
        balance = credit_balance(session, customer_id)
    # ... and that credit, money paid, settles February's invoice at once.
    assert [(o.invoice_id, o.amount) for o in offsets] == [(february, -100_000)]
    assert (paid, balance) == ({january: 100_000, february: 100_000}, 0)


def test_money_that_arrived_before_an_invoice_pays_it_without_a_late_fee_when_recorded_late(
    sqlite_engine: Engine,
) -> None:
    # Received 2027-02-20, recorded only on 2027-04-10: February's invoice (issued 03-01, due 03-31) was
    # covered by money already there, so it was paid on its issue day and bears no Art. 34 late fee.
    api = make_api(sqlite_engine)
    api.clock.now = seoul_midnight(date(2027, 4, 10)) + timedelta(hours=12)
    with Session(sqlite_engine) as session:
        customer = make_customer(session)
        customer_id, contract_id = customer.id or 0, make_contract(session, customer).id or 0
        add_invoice(session, contract_id, date(2027, 1, 1), 100_000)
        february = add_invoice(session, contract_id, date(2027, 2, 1), 100_000).id
        session.commit()
    body = {
        "customer_id": customer_id,
        "contract_id": contract_id,
        "amount": 200_000,
        "received_at": "2027-02-20T10:00:00+09:00",
    }
    headers = {**api.headers("billing"), "Idempotency-Key": "early-money-recorded-late"}

    assert api.client.post("/v1/payments", json=body, headers=headers).status_code == 201

    with Session(sqlite_engine) as session:
        fees = session.exec(select(LateFee).where(LateFee.invoice_id == february)).all()
    assert [f.amount for f in fees if f.amount] == []
