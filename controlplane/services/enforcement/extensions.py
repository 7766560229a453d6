"""Art. 33(1) extension: an operator moves one invoice's restriction day, at most to due + 61 (the day after
60 full days); approved after the restriction began, it lifts the restriction at once."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from controlplane.errors import InvalidInput, NotFound
from controlplane.models.billing import Invoice
from controlplane.models.customer import Contract
from controlplane.models.enforcement import Block
from controlplane.policy_registry import pinned_policy
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement.blocks import lift_block
from controlplane.terms.calendar import seoul_date
from controlplane.terms.errors import TermsError
from controlplane.terms.overdue import restriction_date
from controlplane.terms.policy import Policy


def approve_extension(
    session: Session, *, invoice_id: int, until: date, now: datetime, actor: str
) -> Invoice:
    """Records the approved extension; beyond the latest day is refused naming `extension_until`."""
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
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="invoice",
        entity_id=invoice_id,
        action="extension",
        clause="Art. 33(1)",
        before=before,
        after={"extension_until": until.isoformat()},
    )
    session.flush()
    _lift_if_no_longer_due(session, contract, until, now=now, actor=actor, policy=policy)
    session.commit()
    return invoice


def _lift_if_no_longer_due(
    session: Session, contract: Contract, until: date, *, now: datetime, actor: str, policy: Policy
) -> None:
    """An extension approved after the restriction began lifts it at once, unless another unpaid invoice's
    own restriction day has passed; if still unpaid on the new day, the sweep restricts again."""
    today = seoul_date(now)
    block = session.exec(
        select(Block).where(
            Block.contract_id == contract.id, Block.kind == "nonpayment", col(Block.lifted_at).is_(None)
        )
    ).first()
    if block is None or until <= today:
        return
    unpaid = session.exec(
        select(Invoice).where(
            Invoice.contract_id == contract.id, col(Invoice.paid_amount) < col(Invoice.total)
        )
    ).all()
    if any(restriction_date(i.due_date, i.extension_until, policy=policy) <= today for i in unpaid):
        return
    lift_block(
        session,
        contract,
        block,
        at=now,
        actor=actor,
        clause="Art. 33(1)",
        reason=f"extension approved: the restriction day moves to {until.isoformat()}",
    )
