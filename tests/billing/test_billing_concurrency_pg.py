"""On PostgreSQL: concurrent invoicing runs and concurrent payments with one key never double anything."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from controlplane.errors import Conflict
from controlplane.models import Contract, CreditEntry, Customer, Invoice, InvoiceLine, Notice, Payment
from controlplane.schemas.payments import PaymentCreate
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.billing.payments import record_payment
from controlplane.terms.calendar import YearMonth

pytestmark = pytest.mark.postgres

MakeCustomer = Callable[..., Customer]
MakeContract = Callable[..., Contract]
NOW = datetime(2027, 4, 1, 1, 0, tzinfo=UTC)


def in_threads(count: int, work: Callable[[int], object]) -> list[BaseException]:
    """Runs `work(i)` in `count` threads released together; returns the exceptions raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def target(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # collected and asserted by the test
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_concurrent_invoicing_runs_yield_one_invoice_per_contract(
    pg_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    with Session(pg_engine) as session:
        for n in range(60):
            customer = customer_factory(session, sms_phone=None)
            contract_factory(session, customer, monthly_fee=10_000 + n)
            if n % 10 == 0:  # some customers hold credit: their offsets must not be spent twice
                session.add(
                    CreditEntry(
                        customer_id=customer.id, amount=3_000, reason="overpayment", clause="Art. 35", at=NOW
                    )
                )
        session.commit()

    def run(_: int) -> None:
        generate_invoices(pg_engine, month=YearMonth(2027, 3), as_of=date(2027, 4, 1), now=NOW, chunk_size=7)

    errors = in_threads(4, run)

    assert errors == []
    assert count(pg_engine, Invoice) == 60
    with Session(pg_engine) as session:
        lines_per_invoice = session.exec(
            select(InvoiceLine.invoice_id, func.count()).group_by(InvoiceLine.invoice_id)
        ).all()
        offsets = session.exec(
            select(func.sum(CreditEntry.amount)).where(CreditEntry.reason == "offset")
        ).one()
    assert {n for _, n in lines_per_invoice} == {1, 2}  # plan, plus the credit line for credit holders
    assert offsets == -3_000 * 6
    assert count(pg_engine, Notice) == 60


def test_concurrent_payments_with_one_key_record_one_payment(
    pg_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    with Session(pg_engine) as session:
        customer = customer_factory(session)
        contract = contract_factory(session, customer)
        session.add(
            Invoice(
                contract_id=contract.id,
                month=date(2027, 2, 1),
                issued_at=NOW,
                send_by=date(2027, 3, 10),
                due_date=date(2027, 3, 31),
                supply_amount=100_000,
                vat_amount=0,
                total=100_000,
            )
        )
        session.commit()
        customer_id = customer.id or 0
    results: list[int] = []

    def pay(_: int) -> None:
        with Session(pg_engine, expire_on_commit=False) as session:
            outcome = record_payment(
                session,
                now=NOW,
                actor="t",
                key="same-key",
                data=PaymentCreate(customer_id=customer_id, amount=60_000),
            )
            results.append(outcome.payment.id or 0)

    errors = in_threads(6, pay)

    assert errors == []
    assert len(set(results)) == 1
    assert count(pg_engine, Payment) == 1
    with Session(pg_engine) as session:
        assert session.exec(select(Invoice.paid_amount)).one() == 60_000


def test_concurrent_different_payments_settle_each_won_once(
    pg_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    with Session(pg_engine) as session:
        customer = customer_factory(session)
        contract = contract_factory(session, customer)
        session.add(
            Invoice(
                contract_id=contract.id,
                month=date(2027, 2, 1),
                issued_at=NOW,
                send_by=date(2027, 3, 10),
                due_date=date(2027, 3, 31),
                supply_amount=100_000,
                vat_amount=0,
                total=100_000,
            )
        )
        session.commit()
        customer_id = customer.id or 0

    def pay(i: int) -> None:
        with Session(pg_engine, expire_on_commit=False) as session:
            record_payment(
                session,
                now=NOW,
                actor="t",
                key=f"k{i}",
                data=PaymentCreate(customer_id=customer_id, amount=30_000),
            )

    errors = in_threads(5, pay)

    assert errors == []
    with Session(pg_engine) as session:
        assert session.exec(select(Invoice.paid_amount)).one() == 100_000
        credited = session.exec(select(func.sum(CreditEntry.amount))).one()
    assert credited == 50_000  # 150,000 paid against 100,000 owed


def test_same_key_different_body_is_a_conflict_on_postgres(
    pg_engine: Engine, customer_factory: MakeCustomer
) -> None:
    with Session(pg_engine) as session:
        customer_id = customer_factory(session).id or 0
        session.commit()
    with Session(pg_engine) as session:
        record_payment(
            session, now=NOW, actor="t", key="k", data=PaymentCreate(customer_id=customer_id, amount=1)
        )
    with Session(pg_engine) as session, pytest.raises(Conflict):
        record_payment(
            session, now=NOW, actor="t", key="k", data=PaymentCreate(customer_id=customer_id, amount=2)
        )
