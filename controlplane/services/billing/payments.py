"""Payments (Art. 34, 35): idempotent by key, applied oldest invoice first, late fee on the late part,
overpayment kept as credit. A payment pays only invoices issued by the time it was received; what it
received before an invoice existed is credit, which then settles that invoice (Art. 35(3)).

Lock order (PostgreSQL `SELECT ... FOR UPDATE`; SQLite serialises writers anyway):
  1. the customer's contract rows, ascending id;
  2. the invoices being settled, oldest first.
The enforcement sweep's apply step locks the contract row first as well, so a payment and a restriction of
the same contract are serialised: whichever commits first, the other re-reads the invoices after the lock
and sees the result ("a payment committed while apply runs wins"). Anything that needs both contract and
invoice locks must take them in this order to stay deadlock-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.billing import CreditEntry, Invoice, LateFee, Payment, PaymentAllocation
from controlplane.models.customer import Contract
from controlplane.notify.messages import credit_notice
from controlplane.schemas.payments import PaymentCreate
from controlplane.services.audit import record_change
from controlplane.services.billing.settlement import settle_invoices
from controlplane.services.customers import get_customer
from controlplane.services.notices import queue_notice
from controlplane.terms.calendar import SEOUL, seoul_date


@dataclass
class PaymentOutcome:
    payment: Payment
    allocations: list[PaymentAllocation] = field(default_factory=list)
    late_fees: list[LateFee] = field(default_factory=list)
    credited: int = 0
    created: bool = True


def lock_customer_contracts(session: Session, customer_id: int) -> dict[int, Contract]:
    """Step 1 of the lock order: every contract row of the customer, ascending id.

    On SQLite, which ignores FOR UPDATE and starts writing lazily, a no-op UPDATE takes the write lock
    first (as `contract_lock.lock_contract` does), so the reads below cannot go stale before our writes.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Contract).where(col(Contract.customer_id) == customer_id).values(id=col(Contract.id))
        )
    query = (
        select(Contract)
        .where(Contract.customer_id == customer_id)
        .order_by(col(Contract.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {c.id or 0: c for c in session.exec(query).all()}


def lock_open_invoices(
    session: Session, contract_ids: list[int], *, due_before: date | None = None
) -> list[Invoice]:
    """Step 2: the invoices not yet paid in full, oldest due date first, locked."""
    if not contract_ids:
        return []
    query = (
        select(Invoice)
        .where(col(Invoice.contract_id).in_(contract_ids), col(Invoice.paid_amount) < col(Invoice.total))
        .order_by(col(Invoice.due_date), col(Invoice.month), col(Invoice.id))
        .with_for_update()
    )
    if due_before is not None:
        query = query.where(col(Invoice.due_date) < due_before)
    return list(session.exec(query).all())


def contract_unpaid_invoices(session: Session, contract_id: int, as_of: date) -> list[Invoice]:
    """Invoices of the contract issued by `as_of` and not paid in full, oldest due first (for the sweep)."""
    query = (
        select(Invoice)
        .where(Invoice.contract_id == contract_id, col(Invoice.paid_amount) < col(Invoice.total))
        .order_by(col(Invoice.due_date), col(Invoice.id))
    )
    return [i for i in session.exec(query).all() if seoul_date(i.issued_at) <= as_of]


def customer_overdue_amount(
    session: Session, *, customer_id: int, as_of: date, exclude_contract_id: int | None = None
) -> int:
    """What the customer owes past due on its contracts (Art. 8(6)'s unpaid balance on another service)."""
    query = (
        select(func.coalesce(func.sum(col(Invoice.total) - col(Invoice.paid_amount)), 0))
        .join(Contract, col(Contract.id) == col(Invoice.contract_id))
        .where(Contract.customer_id == customer_id, col(Invoice.due_date) < as_of)
        .where(col(Invoice.paid_amount) < col(Invoice.total))
    )
    if exclude_contract_id is not None:
        query = query.where(col(Contract.id) != exclude_contract_id)
    return int(session.exec(query).one())


def _received_at(data: PaymentCreate, now: datetime) -> datetime:
    moment = data.received_at or now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SEOUL)  # the billing desk's wall clock
    if moment > now:
        raise InvalidInput("a payment cannot be received in the future", field="received_at")
    return moment


def resolve_key(data: PaymentCreate, header_key: str | None) -> str:
    """The idempotency key from the `Idempotency-Key` header or the body; both given must agree."""
    if header_key and data.idempotency_key and header_key != data.idempotency_key:
        raise InvalidInput("Idempotency-Key header and body idempotency_key differ", field="idempotency_key")
    key = (header_key or data.idempotency_key or "").strip()
    if not key or len(key) > 128:
        raise InvalidInput("an Idempotency-Key header (1..128 chars) is required", field="Idempotency-Key")
    return key


def record_payment(
    session: Session, *, now: datetime, actor: str, data: PaymentCreate, key: str
) -> PaymentOutcome:
    """Records and applies a payment once per key; a repeat returns the first outcome (`created=False`)."""
    received_at = _received_at(data, now)
    get_customer(session, data.customer_id)
    repeat = _repeat(session, key, data)
    if repeat is not None:
        return repeat
    contracts = lock_customer_contracts(session, data.customer_id)
    repeat = _repeat(session, key, data)  # a concurrent request with the key may have committed meanwhile
    if repeat is not None:
        return repeat
    if data.contract_id is not None and data.contract_id not in contracts:
        raise InvalidInput(f"contract {data.contract_id} is not the customer's", field="contract_id")
    payment = Payment(
        customer_id=data.customer_id,
        contract_id=data.contract_id,
        idempotency_key=key,
        amount=data.amount,
        received_at=received_at,
        method=data.method,
        reference=data.reference,
    )
    session.add(payment)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        repeat = _repeat(session, key, data)
        if repeat is None:
            raise
        return repeat
    outcome = _apply(session, payment, contracts, now=now)
    _audit(session, outcome, now=now, actor=actor)
    session.commit()
    return outcome


def _apply(
    session: Session, payment: Payment, contracts: dict[int, Contract], *, now: datetime
) -> PaymentOutcome:
    ids = [payment.contract_id] if payment.contract_id is not None else list(contracts)
    # Money received before an invoice existed did not pay it: it was credit then (Art. 35(3)), and
    # settles that invoice below as credit, never as a payment dated before its issue.
    existed = [i for i in lock_open_invoices(session, ids) if i.issued_at <= payment.received_at]
    settlement = settle_invoices(
        session,
        invoices=existed,
        contracts=contracts,
        amount=payment.amount,
        paid_on=seoul_date(payment.received_at),
        now=now,
        payment_id=payment.id,
    )
    allocations = [
        PaymentAllocation(payment_id=payment.id or 0, invoice_id=part.invoice_id, amount=part.amount)
        for part in settlement.parts
    ]
    session.add_all(allocations)
    if settlement.remaining > 0:
        _keep_as_credit(session, payment, settlement.remaining, now=now)
    session.flush()
    lift_paid_restrictions(session, {a.invoice_id for a in allocations}, now=now)
    if settlement.remaining > 0:
        # Art. 35(3): credit is money paid; it settles the customer's other open invoices at once (and
        # those issued after the money arrived).
        from controlplane.services.billing.credits import settle_with_credit  # credits builds on payments

        settle_with_credit(
            session,
            customer_id=payment.customer_id,
            now=now,
            actor="system:payments",
            available_since=seoul_date(payment.received_at),
        )
    return PaymentOutcome(payment, allocations, settlement.late_fees, settlement.remaining)


def _keep_as_credit(session: Session, payment: Payment, amount: int, *, now: datetime) -> None:
    """Art. 35: an overpayment offsets the next invoices (or is refunded on request); the customer is told."""
    session.add(
        CreditEntry(
            customer_id=payment.customer_id,
            amount=amount,
            reason="overpayment",
            clause="Art. 35(3)",
            at=now,
            payment_id=payment.id,
        )
    )
    queue_notice(
        session,
        customer=get_customer(session, payment.customer_id),
        contract_id=payment.contract_id,
        draft=credit_notice(customer_id=payment.customer_id, amount=amount),
        dedupe_key=f"payment:{payment.id}:credit",
        now=now,
    )


def lift_paid_restrictions(session: Session, invoice_ids: set[int], *, now: datetime) -> None:
    """Art. 16(5): paying in full lifts a nonpayment restriction at once, in the payment's transaction."""
    from controlplane.services.enforcement.blocks import (
        lift_nonpayment_if_paid,  # enforcement builds on billing
    )

    if not invoice_ids:
        return
    contract_ids = session.exec(
        select(Invoice.contract_id).where(col(Invoice.id).in_(invoice_ids)).distinct()
    ).all()
    for contract_id in sorted(contract_ids):
        lift_nonpayment_if_paid(session, contract_id, now)


def _audit(session: Session, outcome: PaymentOutcome, *, now: datetime, actor: str) -> None:
    payment = outcome.payment
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="payment",
        entity_id=payment.id or 0,
        action="record",
        clause="Art. 34, Art. 35" if outcome.late_fees else "Art. 35",
        after={
            "customer_id": payment.customer_id,
            "amount": payment.amount,
            "allocations": {str(a.invoice_id): a.amount for a in outcome.allocations},
            "late_fees": {str(f.invoice_id): f.amount for f in outcome.late_fees},
            "credited": outcome.credited,
        },
    )


def _same_request(payment: Payment, data: PaymentCreate) -> bool:
    same = (payment.customer_id, payment.contract_id, payment.amount, payment.method, payment.reference) == (
        data.customer_id,
        data.contract_id,
        data.amount,
        data.method,
        data.reference,
    )
    if data.received_at is not None and data.received_at.tzinfo is not None:
        same = same and payment.received_at == data.received_at
    return same


def _repeat(session: Session, key: str, data: PaymentCreate) -> PaymentOutcome | None:
    payment = session.exec(select(Payment).where(Payment.idempotency_key == key)).first()
    if payment is None:
        return None
    if not _same_request(payment, data):
        raise Conflict(f"idempotency key {key!r} was used for a different payment", field="idempotency_key")
    return load_outcome(session, payment, created=False)


def load_outcome(session: Session, payment: Payment, *, created: bool) -> PaymentOutcome:
    allocations = session.exec(
        select(PaymentAllocation).where(PaymentAllocation.payment_id == payment.id)
    ).all()
    fees = session.exec(select(LateFee).where(LateFee.payment_id == payment.id)).all()
    credited = session.exec(
        select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
            CreditEntry.payment_id == payment.id, CreditEntry.reason == "overpayment"
        )
    ).one()
    return PaymentOutcome(payment, list(allocations), list(fees), int(credited), created)


def get_payment(session: Session, payment_id: int) -> PaymentOutcome:
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}", field="payment_id")
    return load_outcome(session, payment, created=False)
