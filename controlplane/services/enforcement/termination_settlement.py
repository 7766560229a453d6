"""When a termination's record completes (Art. 33(2), 20(6)): the service ended once every server was
wiped, but the record stays `awaiting_settlement`, listed for collection, until the final statement (the
invoice of the month holding the last day of service) is issued and nothing is unpaid. Open amounts keep
accruing late fees meanwhile and are billed on later statements.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from controlplane.models.audit import AuditEvent
from controlplane.models.billing import Invoice, LateFee
from controlplane.models.enforcement import Termination
from controlplane.services.audit import record_change
from controlplane.terms.calendar import YearMonth


def final_statement_issued(session: Session, termination: Termination) -> bool:
    """The invoice of the last day's month exists, or that month's invoice run found nothing to bill."""
    month = YearMonth.of(termination.effective_on)
    invoiced = session.exec(
        select(Invoice.id).where(
            Invoice.contract_id == termination.contract_id, Invoice.month == month.first_day
        )
    ).first()
    if invoiced is not None:
        return True
    ran = session.exec(
        select(AuditEvent.id).where(
            AuditEvent.entity_type == "invoice_run", AuditEvent.entity_id == str(month)
        )
    ).first()
    return ran is not None


def owed(session: Session, contract_id: int) -> int:
    """Everything still to collect on the contract: unpaid invoices plus late fees not yet billed."""
    unpaid = session.exec(
        select(func.coalesce(func.sum(col(Invoice.total) - col(Invoice.paid_amount)), 0)).where(
            Invoice.contract_id == contract_id, col(Invoice.paid_amount) < col(Invoice.total)
        )
    ).one()
    unbilled = session.exec(
        select(func.coalesce(func.sum(LateFee.amount), 0))
        .join(Invoice, col(Invoice.id) == col(LateFee.invoice_id))
        .where(Invoice.contract_id == contract_id, col(LateFee.billed_on_invoice_id).is_(None))
    ).one()
    return int(unpaid) + int(unbilled)


def settle_if_paid(session: Session, termination: Termination, *, at: datetime, actor: str) -> bool:
    """Completes the record of a termination whose service ended, once nothing is owed. True if completed."""
    if termination.ended_at is None or termination.completed_at is not None:
        return False
    if not final_statement_issued(session, termination) or owed(session, termination.contract_id) > 0:
        return False
    termination.completed_at = at
    session.add(termination)
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="termination",
        entity_id=termination.id or 0,
        action="settled",
        clause="Art. 33(2)",
        after={"completed_at": at.isoformat()},
    )
    return True
