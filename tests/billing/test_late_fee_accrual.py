"""Art. 34, 33(2): late fees accrue on every unpaid invoice whether or not anything is paid, never on
earlier late fees, never on an amount under open dispute, floored once in total."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.models import Contract, Invoice, InvoiceLine, LateFee
from controlplane.models.disputes import Dispute
from controlplane.schemas.payments import PaymentCreate
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.billing.payments import record_payment
from controlplane.terms.calendar import YearMonth
from tests.utils.factories import make_invoice, make_world, noon


def _january_unpaid(engine: Engine, total: int = 100_000) -> tuple[int, int]:
    """A contract whose January invoice (100,000 with VAT, due 2027-01-31) is unpaid."""
    with session_scope(engine) as session:
        contract, _ = make_world(session, servers=0, monthly_fee=0)
        invoice = make_invoice(session, contract, month=date(2026, 12, 1), due=date(2027, 1, 31), total=total)
        return contract.id or 0, invoice.id or 0


def _run(engine: Engine, month: YearMonth) -> None:
    generate_invoices(engine, month=month, as_of=month.next().first_day, now=noon(month.next().first_day))


def _late_fee_lines(engine: Engine, contract_id: int, month: YearMonth) -> list[int]:
    with Session(engine) as session:
        invoice = session.exec(
            select(Invoice).where(Invoice.contract_id == contract_id, Invoice.month == month.first_day)
        ).one()
        return [
            line.amount
            for line in session.exec(
                select(InvoiceLine).where(
                    InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == "late_fee"
                )
            ).all()
        ]


def test_the_next_invoice_carries_the_late_fee_accrued_through_the_month_end_unpaid(
    sqlite_engine: Engine,
) -> None:
    contract_id, _ = _january_unpaid(sqlite_engine)
    _run(sqlite_engine, YearMonth(2027, 2))
    # 28 days overdue (Feb 1 .. Feb 28): 100,000 x 0.015 x 12 x 28/365 = 1,380.82 -> 1,380
    assert _late_fee_lines(sqlite_engine, contract_id, YearMonth(2027, 2)) == [1_380]


def test_reruns_accrue_nothing_more(sqlite_engine: Engine) -> None:
    _january_unpaid(sqlite_engine)
    _run(sqlite_engine, YearMonth(2027, 2))
    _run(sqlite_engine, YearMonth(2027, 2))
    with Session(sqlite_engine) as session:
        assert len(session.exec(select(LateFee)).all()) == 1


def test_a_payment_carries_what_accrued_since_floored_once_in_total(sqlite_engine: Engine) -> None:
    contract_id, invoice_id = _january_unpaid(sqlite_engine)
    _run(sqlite_engine, YearMonth(2027, 2))
    with Session(sqlite_engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        payment = PaymentCreate(
            customer_id=contract.customer_id,
            contract_id=contract_id,
            amount=100_000,
            received_at=datetime(2027, 3, 3, 3, tzinfo=UTC),
        )
        record_payment(
            session, data=payment, now=noon(date(2027, 3, 3)), actor="billing:test", key="dctest-late"
        )
    with Session(sqlite_engine) as session:
        fees = session.exec(
            select(LateFee).where(LateFee.invoice_id == invoice_id).order_by(col(LateFee.id))
        ).all()
    # 31 days in all is 1,528 (the map's example); 1,380 went on February's invoice, the payment adds 148.
    assert [f.amount for f in fees] == [1_380, 148]
    assert sum(f.amount for f in fees) == 1_528


def test_earlier_late_fees_never_bear_late_fees(sqlite_engine: Engine) -> None:
    contract_id, _ = _january_unpaid(sqlite_engine)
    _run(sqlite_engine, YearMonth(2027, 2))  # February's invoice: 0 fee + 1,380 late fee, due 2027-03-31
    _run(sqlite_engine, YearMonth(2027, 3))
    _run(sqlite_engine, YearMonth(2027, 4))
    with Session(sqlite_engine) as session:
        february = session.exec(
            select(Invoice).where(Invoice.contract_id == contract_id, Invoice.month == date(2027, 2, 1))
        ).one()
        on_february = session.exec(select(LateFee).where(LateFee.invoice_id == february.id)).all()
    # Its overdue days are recorded (rows of 0), never charged.
    assert february.total == 1_380 and sum(f.amount for f in on_february) == 0


def test_an_amount_under_open_dispute_bears_no_late_fee(sqlite_engine: Engine) -> None:
    contract_id, invoice_id = _january_unpaid(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        session.add(
            Dispute(
                invoice_id=invoice_id,
                contract_id=contract_id,
                amount=40_000,
                reason="r",
                filed_at=datetime(2027, 1, 20, tzinfo=UTC),
                filed_by="billing:t",
                answer_due_on=date(2027, 1, 27),
            )
        )
    _run(sqlite_engine, YearMonth(2027, 2))
    # only the undisputed 60,000 accrues: 60,000 x 0.18 x 28/365 = 828.49 -> 828
    assert _late_fee_lines(sqlite_engine, contract_id, YearMonth(2027, 2)) == [828]
