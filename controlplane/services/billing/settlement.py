"""Settling invoices with money (a payment or credit): oldest first, carrying the late fee accrued so far."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from controlplane.models.billing import Invoice, LateFee
from controlplane.models.customer import Contract
from controlplane.policy_registry import pinned_policy
from controlplane.services.billing.late_fees import accrue_late_fee


@dataclass(frozen=True, slots=True)
class Settled:
    invoice_id: int
    amount: int


@dataclass
class Settlement:
    parts: list[Settled]
    late_fees: list[LateFee]
    remaining: int


def outstanding(invoice: Invoice) -> int:
    return max(0, invoice.total - invoice.paid_amount)


def settle_invoices(
    session: Session,
    *,
    invoices: Sequence[Invoice],
    contracts: dict[int, Contract],
    amount: int,
    paid_on: date,
    now: datetime,
    payment_id: int | None = None,
    paid_on_for: Callable[[Invoice], date] | None = None,
) -> Settlement:
    """Applies `amount` to `invoices` in the order given (callers pass them oldest first, locked).

    Art. 34: an invoice paid after its due date first accrues its late fee on the whole unpaid fee up to
    the payment day (a LateFee row, billed on the contract's next invoice), then takes the payment.
    `paid_on_for` dates each invoice's payment on its own (credit that was there before the invoice).
    """
    remaining = amount
    parts: list[Settled] = []
    fees: list[LateFee] = []
    for invoice in invoices:
        part = min(remaining, outstanding(invoice))
        if part <= 0:
            continue
        # Art. 34: what accrued on the whole unpaid fee up to this day is carried first, then it is paid.
        day = paid_on_for(invoice) if paid_on_for is not None else paid_on
        fee = _accrue(session, invoice, contracts[invoice.contract_id], day, payment_id)
        if fee is not None and fee.amount > 0:
            fees.append(fee)
        remaining -= part
        invoice.paid_amount += part
        if invoice.paid_amount >= invoice.total:
            invoice.paid_in_full_at = now
        session.add(invoice)
        parts.append(Settled(invoice.id or 0, part))
        if remaining == 0:
            break
    session.flush()
    return Settlement(parts, fees, remaining)


def _accrue(
    session: Session, invoice: Invoice, contract: Contract, paid_on: date, payment_id: int | None
) -> LateFee | None:
    # The contract's own version (Art. 3(4)); an unknown one refuses the payment (409) rather than guess.
    if paid_on <= invoice.due_date:
        return None  # on time: no late fee, and no policy number needed (Art. 34(3))
    return accrue_late_fee(
        session, invoice, through=paid_on, policy=pinned_policy(contract.terms_version), payment_id=payment_id
    )
