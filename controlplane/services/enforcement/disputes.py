"""Invoice disputes (Art. 35(1),(2)): filed within 15 days of the invoice being sent, answered within 7.

While a dispute is open its amount counts neither towards restriction nor towards late fees. The answer
upholds the amount, whose restriction day is then counted from the original due date but never before
7 full days after the answer, or corrects the invoice with a credit note. Both lock the contract row
(the lock payments and the sweep take), so an answer and a sweep never decide from different facts.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.billing import CreditEntry, Invoice, InvoiceLine
from controlplane.models.customer import Customer
from controlplane.models.disputes import Dispute, DisputeOutcome
from controlplane.notify.messages import NoticeDraft
from controlplane.policy_registry import pinned_policy
from controlplane.services.audit import record_change
from controlplane.services.billing.credits import settle_with_credit
from controlplane.services.billing.late_fees import accrue_late_fee
from controlplane.services.billing.payments import lift_paid_restrictions
from controlplane.services.contract_lock import lock_contract
from controlplane.services.notices import queue_notice
from controlplane.services.tenancy import contracts_of
from controlplane.terms.calendar import seoul_date
from controlplane.terms.deadlines import dispute_answer, dispute_window
from controlplane.terms.periods import days_after
from controlplane.terms.policy import Policy

ART_35_1, ART_35_2 = "Art. 35(1)", "Art. 35(2)"


def dispute_snapshot(d: Dispute) -> dict[str, object]:
    return {
        "invoice_id": d.invoice_id,
        "amount": d.amount,
        "answer_due_on": d.answer_due_on.isoformat(),
        "outcome": d.outcome,
        "corrected_amount": d.corrected_amount,
        "restrict_not_before": d.restrict_not_before.isoformat() if d.restrict_not_before else None,
    }


def file_dispute(
    session: Session, *, invoice_id: int, amount: int, reason: str, now: datetime, actor: str
) -> Dispute:
    """Art. 35(1): within 15 days of the invoice being sent (the day its notice first went out); an
    invoice not sent yet can be disputed too (its window has not begun). One open dispute per invoice."""
    invoice = _invoice(session, invoice_id)
    contract = lock_contract(session, invoice.contract_id)
    session.refresh(invoice)
    policy = pinned_policy(contract.terms_version)
    today = seoul_date(now)
    if invoice.sent_at is not None:
        window = dispute_window(seoul_date(invoice.sent_at), policy=policy)
        if not window.is_met_by(today):
            sent_on = seoul_date(invoice.sent_at).isoformat()
            raise InvalidInput(
                f"invoice {invoice_id} was sent on {sent_on}; disputes were open through "
                f"{window.on.isoformat()} ({ART_35_1})",
                field="invoice_id",
            )
    if amount > invoice.total:
        raise InvalidInput(
            f"the disputed amount exceeds the invoice total {invoice.total:,} KRW", field="amount"
        )
    if open_dispute(session, invoice_id) is not None:
        raise Conflict(f"invoice {invoice_id} already has an open dispute", field="invoice_id")
    _accrue_until(session, invoice, today, policy)  # the days before filing bore late fees on all of it
    dispute = Dispute(
        invoice_id=invoice_id,
        contract_id=contract.id or 0,
        amount=amount,
        reason=reason,
        filed_at=now,
        filed_by=actor,
        answer_due_on=dispute_answer(today, policy=policy).on,
    )
    session.add(dispute)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="dispute",
        entity_id=dispute.id or 0,
        action="file",
        clause=ART_35_1,
        after=dispute_snapshot(dispute),
    )
    session.commit()
    return dispute


def answer_dispute(
    session: Session,
    *,
    dispute_id: int,
    outcome: DisputeOutcome,
    corrected_amount: int,
    answer: str,
    now: datetime,
    actor: str,
) -> Dispute:
    """Art. 35(1),(2): the company's answer. `corrected` issues a credit note of `corrected_amount` on the
    invoice; whatever stays upheld is restricted no earlier than 7 full days after this answer."""
    dispute = get_dispute(session, dispute_id)
    contract = lock_contract(session, dispute.contract_id)
    session.refresh(dispute)
    if dispute.answered_at is not None:
        raise Conflict(f"dispute {dispute_id} was already answered", field="dispute_id")
    if outcome is DisputeOutcome.CORRECTED and not 0 < corrected_amount <= dispute.amount:
        raise InvalidInput(f"a correction credits 1 to {dispute.amount:,} KRW", field="corrected_amount")
    if outcome is DisputeOutcome.UPHELD and corrected_amount:
        raise InvalidInput("an upheld invoice is not corrected", field="corrected_amount")
    before = dispute_snapshot(dispute)
    # The days while open bore no late fee on the disputed part (Art. 35(1)): accrue them before it ends.
    _accrue_until(
        session, _invoice(session, dispute.invoice_id), seoul_date(now), pinned_policy(contract.terms_version)
    )
    dispute.answered_at, dispute.answered_by, dispute.answer = now, actor, answer
    dispute.outcome, dispute.corrected_amount = outcome.value, corrected_amount
    if corrected_amount < dispute.amount:
        dispute.restrict_not_before = days_after(seoul_date(now), 7).acts_on
    session.add(dispute)
    if corrected_amount:
        _credit_note(session, dispute, now=now)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="dispute",
        entity_id=dispute_id,
        action=f"answer:{outcome.value}",
        clause=ART_35_2 if corrected_amount else ART_35_1,
        before=before,
        after=dispute_snapshot(dispute),
    )
    _notify_answer(session, dispute, contract.customer_id, now=now)
    session.commit()
    if corrected_amount:
        # Art. 35(3): what was paid beyond the corrected total is cash credit, and credit settles the
        # customer's open invoices as soon as it arises (its own transaction: payments' lock order).
        settle_with_credit(session, customer_id=contract.customer_id, now=now, actor=actor)
        session.commit()
    return dispute


def _accrue_until(session: Session, invoice: Invoice, today: date, policy: Policy) -> None:
    """Late fees are accrued in stretches of one principal: a dispute filed or answered ends one."""
    if today > invoice.due_date:
        accrue_late_fee(session, invoice, through=today, policy=policy)


def _credit_note(session: Session, dispute: Dispute, *, now: datetime) -> None:
    """Art. 35(2): the invoice is corrected; what was already paid beyond the corrected total is credit."""
    invoice = _invoice(session, dispute.invoice_id)
    invoice.total -= dispute.corrected_amount
    session.add(
        InvoiceLine(
            invoice_id=invoice.id or 0,
            kind="credit_note",
            clause=ART_35_2,
            description=f"correction after dispute {dispute.id}",
            amount=-dispute.corrected_amount,
        )
    )
    if invoice.paid_amount > invoice.total:
        contract = lock_contract(session, invoice.contract_id)
        session.add(
            CreditEntry(
                customer_id=contract.customer_id,
                amount=invoice.paid_amount - invoice.total,
                reason="credit_note",
                clause=ART_35_2,
                at=now,
                invoice_id=invoice.id,
            )
        )
        invoice.paid_amount = invoice.total
    if invoice.paid_amount >= invoice.total and invoice.paid_in_full_at is None:
        invoice.paid_in_full_at = now
    session.add(invoice)
    session.flush()
    lift_paid_restrictions(session, {invoice.id or 0}, now=now)


def _notify_answer(session: Session, dispute: Dispute, customer_id: int, *, now: datetime) -> None:
    customer = session.get(Customer, customer_id)
    assert customer is not None  # a contract's customer is a foreign key
    body = (
        f"Your dispute of invoice {dispute.invoice_id} ({dispute.amount:,} KRW) is answered: "
        f"{dispute.outcome}.\n"
    )
    if dispute.corrected_amount:
        body += f"The invoice is corrected by {dispute.corrected_amount:,} KRW (Art. 35(2)).\n"
    if dispute.restrict_not_before:
        body += (
            f"What stays due is not restricted before {dispute.restrict_not_before.isoformat()} "
            "(Art. 33(1), 35).\n"
        )
    subject = f"[D-Cloud] Dispute of invoice {dispute.invoice_id}"
    draft = NoticeDraft("dispute_answer", ART_35_1, subject, body)
    queue_notice(
        session,
        customer=customer,
        contract_id=dispute.contract_id,
        draft=draft,
        dedupe_key=f"dispute:{dispute.id}:answer",
        now=now,
    )


def _invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}", field="invoice_id")
    return invoice


def get_dispute(session: Session, dispute_id: int) -> Dispute:
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound(f"no dispute {dispute_id}", field="dispute_id")
    return dispute


def open_dispute(session: Session, invoice_id: int) -> Dispute | None:
    return session.exec(
        select(Dispute).where(Dispute.invoice_id == invoice_id, col(Dispute.answered_at).is_(None))
    ).first()


def list_disputes(
    session: Session, *, open_only: bool = False, limit: int = 100, customer_id: int | None = None
) -> list[Dispute]:
    """Disputes by id; `customer_id` keeps a tenant's own."""
    query = select(Dispute)
    if customer_id is not None:
        query = query.where(col(Dispute.contract_id).in_(contracts_of(customer_id)))
    if open_only:
        query = query.where(col(Dispute.answered_at).is_(None))
    return list(session.exec(query.order_by(col(Dispute.id)).limit(limit)).all())
