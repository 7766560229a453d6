"""The days an invoice is under open dispute bear no late fee on the disputed part (Art. 34, 35(1)), even
when the company answers after the due date. Found by the time-travel simulation (seed 6): a stretch
with all of the invoice disputed was never recorded, so the next accrual charged it on the whole."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.db import session_scope
from controlplane.models import LateFee
from controlplane.models.disputes import DisputeOutcome
from controlplane.schemas.payments import PaymentCreate
from controlplane.services.billing.payments import record_payment
from controlplane.services.enforcement import disputes as dispute_service
from tests.utils.factories import make_invoice, make_world, noon

DUE = date(2027, 2, 28)
ANSWERED = date(2027, 3, 20)
PAID = date(2027, 3, 30)


def test_only_the_days_after_the_answer_bear_late_fees(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        contract, _ = make_world(session)
        invoice = make_invoice(session, contract, total=110_000)
        ids = invoice.id or 0, contract.customer_id, contract.id or 0
    with Session(sqlite_engine) as session:
        filed = dispute_service.file_dispute(
            session,
            invoice_id=ids[0],
            amount=110_000,
            reason="wrong",
            now=noon(DUE - timedelta(days=8)),
            actor="b",
        )
        dispute_id = filed.id or 0
    with Session(sqlite_engine) as session:
        dispute_service.answer_dispute(
            session,
            dispute_id=dispute_id,
            outcome=DisputeOutcome.UPHELD,
            corrected_amount=0,
            answer="the fee is right",
            now=noon(ANSWERED),
            actor="operator:kim",
        )
    with Session(sqlite_engine) as session:
        data = PaymentCreate(customer_id=ids[1], contract_id=ids[2], amount=110_000)
        record_payment(session, now=noon(PAID), actor="billing:a", data=data, key="dctest-paid")
    with Session(sqlite_engine) as session:
        charged = sum(f.amount for f in session.exec(select(LateFee)).all())
    # 110,000 x 15/1000 x 12 x 10 / 365 (Mar 21 .. Mar 30) = 542.46 -> 542; never the 30 days from Mar 1.
    assert charged == 542
