"""What an open dispute holds back (Art. 35): its amount counts neither towards restriction nor late fees.

Kept apart from the disputes service so billing and enforcement can ask it without importing payments.
"""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from controlplane.models.disputes import Dispute


def open_disputed_amounts(session: Session, invoice_ids: list[int]) -> dict[int, int]:
    """The amount under open dispute per invoice."""
    if not invoice_ids:
        return {}
    rows = session.exec(
        select(Dispute.invoice_id, func.sum(Dispute.amount))
        .where(col(Dispute.invoice_id).in_(invoice_ids), col(Dispute.answered_at).is_(None))
        .group_by(col(Dispute.invoice_id))
    ).all()
    return {int(i): int(a or 0) for i, a in rows}
