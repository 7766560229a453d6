"""The early-termination penalty (Art. 32(3)) as a line on the invoice of the month holding the last day of
service, through billing's extra-line hook. Compensation, not a supply, so it is kept out of the VAT base
(Art. 32(5)) like the Art. 34 late fee.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from controlplane.models.customer import Contract
from controlplane.models.enforcement import Termination
from controlplane.services.billing.drafts import ExtraLine
from controlplane.services.billing.invoicing import register_extra_lines
from controlplane.services.enforcement.termination_money import billable_penalty
from controlplane.terms.calendar import YearMonth
from controlplane.terms.clauses import ART_32_3

PENALTY_KIND = "penalty"


class PenaltyLines:
    """Billing's extra-line source: each penalty belongs to exactly one month, so the invoice's
    (contract, month) uniqueness alone keeps a rerun from billing it twice; nothing to mark."""

    def lines(
        self, session: Session, contract_ids: list[int], month: YearMonth
    ) -> dict[int, list[ExtraLine]]:
        query = (
            select(Termination, Contract)
            .join(Contract, col(Contract.id) == col(Termination.contract_id))
            .where(col(Termination.contract_id).in_(contract_ids), col(Termination.penalty) > 0)
            # A withdrawn termination ended nothing, and a proposal decided nothing yet: neither is billed.
            .where(col(Termination.withdrawn_at).is_(None), col(Termination.confirmed_by).is_not(None))
            .where(col(Termination.effective_on).between(month.first_day, month.last_day))
        )
        found: dict[int, list[ExtraLine]] = {}
        for termination, contract in session.exec(query).all():
            amount = billable_penalty(session, contract, termination)
            if amount > 0:
                description = (
                    f"early-termination penalty (termination {termination.id}, "
                    f"last day {termination.effective_on.isoformat()})"
                )
                line = ExtraLine(PENALTY_KIND, description, amount, ART_32_3, taxable=False)
                found.setdefault(termination.contract_id, []).append(line)
        return found

    def billed(self, session: Session, invoice_ids: dict[int, int], month: YearMonth) -> None:
        return None


PENALTY_LINES = PenaltyLines()
register_extra_lines(PENALTY_LINES)
