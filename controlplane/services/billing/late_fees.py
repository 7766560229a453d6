"""Late-fee accrual (Art. 34, 33(2)): every unpaid invoice accrues, whether or not anything is paid.

The invoice for month M carries what accrued through the last day of M; a payment first accrues up to its
day on what was unpaid before it; a termination's final statement carries what accrued up to the last day
of service. The principal is the unpaid *fee* (supply + VAT): late fees already billed on the invoice
never bear late fees, and an amount under open dispute (Art. 35) bears none while the dispute is open.
Each row records the last overdue day it covers, so reruns add nothing, and the invoice's late fees are
floored once in total (terms.late_fee.late_fee_increment). The caller holds the contract lock.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, func, select

from controlplane.models.billing import Invoice, InvoiceLine, LateFee
from controlplane.services.billing.dispute_holds import open_disputed_amounts
from controlplane.terms.late_fee import late_fee_increment
from controlplane.terms.policy import Policy

LATE_FEE_KIND = "late_fee"


def late_fee_principal(session: Session, invoice: Invoice) -> int:
    """The invoice's unpaid fee: its total less the late fees billed on it, less what was paid (payments
    settle the fee first), less any amount under open dispute."""
    billed_late = session.exec(
        select(func.coalesce(func.sum(InvoiceLine.amount), 0)).where(
            InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == LATE_FEE_KIND
        )
    ).one()
    unpaid_fee = invoice.total - int(billed_late) - invoice.paid_amount
    disputed = open_disputed_amounts(session, [invoice.id or 0]).get(invoice.id or 0, 0)
    return max(0, unpaid_fee - disputed)


def accrue_late_fee(
    session: Session, invoice: Invoice, *, through: date, policy: Policy, payment_id: int | None = None
) -> LateFee | None:
    """Accrues the invoice's late fee for the overdue days after the last accrual, through `through`."""
    rows = session.exec(
        select(LateFee).where(LateFee.invoice_id == invoice.id, col(LateFee.accrued_through).is_not(None))
    ).all()
    start = max([invoice.due_date, *(r.accrued_through for r in rows if r.accrued_through)])
    days = (through - start).days
    if days <= 0:
        return None
    # A stretch with nothing to bear late fees (all paid, or all under open dispute) is still recorded,
    # as a row of 0: else its days would be charged on whatever is unpaid at the next accrual.
    principal = late_fee_principal(session, invoice)
    earlier = [(r.principal, r.overdue_days) for r in rows]
    amount = (
        late_fee_increment(earlier, sum(r.amount for r in rows), principal, days, policy)
        if principal > 0
        else 0
    )
    row = LateFee(
        invoice_id=invoice.id or 0,
        payment_id=payment_id,
        principal=principal,
        overdue_days=days,
        amount=amount,
        accrued_through=through,
    )
    session.add(row)
    session.flush()
    return row


def accrue_contract_late_fees(
    session: Session, contract_id: int, *, through: date, policy: Policy
) -> list[LateFee]:
    """Every unpaid invoice of the contract due before `through` accrues through that day."""
    invoices = session.exec(
        select(Invoice)
        .where(
            Invoice.contract_id == contract_id,
            col(Invoice.paid_amount) < col(Invoice.total),
            col(Invoice.due_date) < through,
        )
        .order_by(col(Invoice.due_date), col(Invoice.id))
    ).all()
    accrued = [accrue_late_fee(session, invoice, through=through, policy=policy) for invoice in invoices]
    return [row for row in accrued if row is not None]
