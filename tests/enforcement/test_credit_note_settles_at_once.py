"""A correction that leaves an invoice overpaid gives cash credit, and that credit settles the customer's
other open invoices at once (Art. 35(2),(3)), not at some later sweep or invoice run while late fees run
on. Found by the time-travel simulation (seed 7)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.db import session_scope
from controlplane.models import Invoice
from controlplane.models.disputes import DisputeOutcome
from controlplane.services.billing.credits import credit_balance
from controlplane.services.enforcement import disputes as dispute_service
from tests.utils.factories import make_invoice, make_world, noon


def test_credit_from_a_correction_pays_the_open_invoice_the_same_moment(engine: Engine) -> None:
    with session_scope(engine) as session:
        contract, _ = make_world(session)
        paid = make_invoice(session, contract, month=date(2027, 2, 1), due=date(2027, 3, 31), paid=110_000)
        unpaid = make_invoice(session, contract)  # January's, due 2027-02-28, nothing paid
        ids = paid.id or 0, unpaid.id or 0, contract.customer_id
    filed_on = date(2027, 3, 5)
    with Session(engine) as session:
        dispute = dispute_service.file_dispute(
            session, invoice_id=ids[0], amount=50_000, reason="wrong", now=noon(filed_on), actor="billing:a"
        )
        dispute_id = dispute.id or 0
    with Session(engine) as session:
        dispute_service.answer_dispute(
            session,
            dispute_id=dispute_id,
            outcome=DisputeOutcome.CORRECTED,
            corrected_amount=50_000,
            answer="fee corrected",
            now=noon(filed_on + timedelta(days=2)),
            actor="operator:kim",
        )
    with Session(engine) as session:
        settled = session.get(Invoice, ids[1])
        assert settled is not None and settled.paid_amount == 50_000
        assert credit_balance(session, ids[2]) == 0
