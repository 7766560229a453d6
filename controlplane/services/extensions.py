"""Art. 33(1) extension: an operator moves one invoice's restriction day, at most to due + 60 days."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from controlplane.errors import InvalidInput, NotFound
from controlplane.models.billing import Invoice
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.policies import pinned_policy
from controlplane.terms.errors import TermsError
from controlplane.terms.overdue import restriction_date


def approve_extension(
    session: Session, *, invoice_id: int, until: date, now: datetime, actor: str
) -> Invoice:
    """Records the approved extension; beyond due + 60 days is refused naming `extension_until`."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}", field="invoice_id")
    contract = lock_contract(session, invoice.contract_id)  # same order as payments and the sweep
    session.refresh(invoice)
    if invoice.paid_in_full_at is not None:
        raise InvalidInput(f"invoice {invoice_id} is paid in full; nothing to extend", field="invoice_id")
    policy = pinned_policy(contract.terms_version)  # 409 on an unknown pin, before judging the date
    try:
        restriction_date(invoice.due_date, until, policy=policy)
    except TermsError as exc:
        raise InvalidInput(exc.message, field=exc.field or "extension_until") from exc
    before = {"extension_until": str(invoice.extension_until) if invoice.extension_until else None}
    invoice.extension_until, invoice.extension_approved_by = until, actor
    session.add(invoice)
    record_change(session, at=now, actor=actor, entity_type="invoice", entity_id=invoice_id,
                  action="extension", clause="Art. 33(1)", before=before,
                  after={"extension_until": until.isoformat()})
    session.commit()
    return invoice
