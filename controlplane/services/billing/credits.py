"""The credit ledger (Art. 35): balance, and refunds on request with arrears deducted first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func
from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput
from controlplane.models.billing import CreditEntry, Invoice
from controlplane.models.customer import Contract
from controlplane.notify.messages import refund_notice
from controlplane.services.audit import record_change
from controlplane.services.billing.payments import (
    lift_paid_restrictions,
    lock_customer_contracts,
    lock_open_invoices,
)
from controlplane.services.billing.settlement import Settlement, settle_invoices
from controlplane.services.customers import get_customer
from controlplane.services.notices import queue_notice
from controlplane.terms.calendar import seoul_date


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    customer_id: int
    arrears_deducted: int
    refunded: int
    credit_balance: int


def credit_balance(session: Session, customer_id: int) -> int:
    """The sum of the ledger: overpayments and SLA credits in, offsets and refunds out."""
    total = session.exec(
        select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(CreditEntry.customer_id == customer_id)
    ).one()
    return int(total)


def credit_balances(session: Session, customer_ids: list[int] | Select[Any]) -> dict[int, int]:
    """Balances of many customers (a list, or a subquery of ids) in one query; no entries, no key."""
    if isinstance(customer_ids, list) and not customer_ids:
        return {}
    query = (
        select(CreditEntry.customer_id, func.sum(CreditEntry.amount))
        .where(col(CreditEntry.customer_id).in_(customer_ids))
        .group_by(col(CreditEntry.customer_id))
    )
    return {cid: int(total) for cid, total in session.exec(query).all()}


def refund_credit(
    session: Session, *, now: datetime, actor: str, customer_id: int, amount: int | None
) -> RefundOutcome:
    """Art. 35: pays overdue invoices from the credit first (with their late fees), refunds the rest."""
    customer = get_customer(session, customer_id)
    contracts = lock_customer_contracts(session, customer_id)  # same lock order as payments
    balance = credit_balance(session, customer_id)
    if balance <= 0:
        raise Conflict(f"customer {customer_id} has no credit to refund", field="amount")
    settled = _offset(session, customer_id, contracts, balance, now=now, due_before=seoul_date(now))
    deducted = balance - settled.remaining
    refund = settled.remaining if amount is None else amount
    if refund > settled.remaining:
        raise InvalidInput(
            f"only {settled.remaining:,} KRW can be refunded after {deducted:,} KRW of arrears",
            field="amount",
        )
    if refund > 0:
        session.add(
            CreditEntry(customer_id=customer_id, amount=-refund, reason="refund", clause="Art. 35(3)", at=now)
        )
    outcome = RefundOutcome(customer_id, deducted, refund, balance - deducted - refund)
    queue_notice(
        session,
        customer=customer,
        contract_id=None,
        draft=refund_notice(customer_id=customer_id, amount=refund, arrears_deducted=deducted),
        dedupe_key=f"customer:{customer_id}:refund:{now.isoformat()}",
        now=now,
    )
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="customer",
        entity_id=customer_id,
        action="refund",
        clause="Art. 35",
        before={"credit_balance": balance},
        after={"arrears_deducted": deducted, "refunded": refund, "credit_balance": outcome.credit_balance},
    )
    session.commit()
    return outcome


def _offset(
    session: Session,
    customer_id: int,
    contracts: dict[int, Contract],
    balance: int,
    *,
    now: datetime,
    due_before: date | None = None,
    available_since: date | None = None,
) -> Settlement:
    """Spends `balance` of credit on the customer's open invoices, oldest first (ledger rows, late fees
    on what was paid late, restrictions lifted once paid in full)."""
    today = seoul_date(now)
    invoices = lock_open_invoices(session, list(contracts), due_before=due_before)

    def paid_on_for(invoice: Invoice) -> date:
        # Money that was there before the invoice existed paid it the day it was issued (no late fee).
        assert available_since is not None
        return min(today, max(available_since, seoul_date(invoice.issued_at)))

    settled = settle_invoices(
        session,
        invoices=invoices,
        contracts=contracts,
        amount=balance,
        paid_on=today,
        now=now,
        paid_on_for=paid_on_for if available_since is not None else None,
    )
    for part in settled.parts:
        session.add(
            CreditEntry(
                customer_id=customer_id,
                amount=-part.amount,
                reason="offset",
                clause="Art. 35(3)",
                at=now,
                invoice_id=part.invoice_id,
            )
        )
    session.flush()
    lift_paid_restrictions(session, {p.invoice_id for p in settled.parts}, now=now)
    return settled


def settle_with_credit(
    session: Session, *, customer_id: int, now: datetime, actor: str, available_since: date | None = None
) -> int:
    """Art. 35(3): credit is money paid. The customer's cash credit settles its open invoices, oldest
    first, as soon as it arises and before any enforcement decision. `available_since` is the day the
    money arrived (a payment's): an invoice issued later counts as paid on its issue day. Returns what
    it settled; the caller commits."""
    contracts = lock_customer_contracts(session, customer_id)  # same lock order as payments
    balance = credit_balance(session, customer_id)
    if balance <= 0 or not contracts:
        return 0
    settled = _offset(session, customer_id, contracts, balance, now=now, available_since=available_since)
    used = balance - settled.remaining
    if used:
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="customer",
            entity_id=customer_id,
            action="credit_offset",
            clause="Art. 35(3)",
            before={"credit_balance": balance},
            after={
                "settled": {str(p.invoice_id): p.amount for p in settled.parts},
                "credit_balance": settled.remaining,
            },
        )
    return used


def customers_with_credit_and_open_invoices(session: Session) -> list[int]:
    """Customers whose positive credit could still settle an open invoice (the sweep settles them first)."""
    open_customers = (
        select(Contract.customer_id)
        .join(Invoice, col(Invoice.contract_id) == col(Contract.id))
        .where(col(Invoice.paid_amount) < col(Invoice.total))
        .distinct()
    )
    return sorted(c for c, balance in credit_balances(session, open_customers).items() if balance > 0)
