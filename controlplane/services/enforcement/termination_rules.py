"""Who may confirm a termination, checked at the moment of confirming: a different operator token than
the proposer's, never billing, never a withdrawn or customer's own request, never a paid-up contract for
a termination whose ground is money owed (Art. 20(5), 21, 35(3))."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from controlplane.errors import Conflict
from controlplane.models.billing import Invoice
from controlplane.models.customer import Contract, ContractState
from controlplane.models.enforcement import Termination
from controlplane.services.billing.credits import credit_balance
from controlplane.services.billing.dispute_holds import open_disputed_amounts
from controlplane.terms.calendar import seoul_date
from controlplane.terms.lifecycle import TerminationKind

_K = TerminationKind
# The states a contract can be terminated from.
LIVE = (ContractState.ACTIVE, ContractState.RESTRICTED)
# Kinds whose ground is money owed: a contract that is paid up (credit counted) is never terminated by them.
_ARREARS_KINDS = frozenset({_K.EX_OFFICIO, _K.INSOLVENCY, _K.NONPAYMENT})
TWO_PERSON_RULE = "two-person rule (Art. 20(5), 21; nothing irreversible on one person's word)"


@dataclass(frozen=True, slots=True)
class Confirmer:
    """Who confirms: the confirming token must differ from the proposer's and be an operator's."""

    actor: str
    role: str
    token_id: int | None


def check_confirmable(
    session: Session, termination: Termination, contract: Contract, now: datetime, confirmer: Confirmer
) -> None:
    if termination.withdrawn_at is not None:
        raise Conflict(f"termination {termination.id} was withdrawn", field="termination_id")
    if termination.kind == TerminationKind.CUSTOMER_REQUEST:
        raise Conflict(
            f"termination {termination.id} is the customer's own request: it needs no "
            f"confirmation and takes effect after its last day of service "
            f"{termination.effective_on.isoformat()} (Art. 20(2)); until then it can be withdrawn",
            field="termination_id",
        )
    if termination.confirmed_by is not None:
        raise Conflict(
            f"termination {termination.id} was already confirmed by {termination.confirmed_by}",
            field="termination_id",
        )
    if confirmer.role != "operator":
        raise Conflict(
            f"{TWO_PERSON_RULE}: {confirmer.role} may propose a termination, only an operator confirms it",
            field="role",
        )
    same_token = confirmer.token_id is not None and confirmer.token_id == termination.proposed_by_token
    if same_token or confirmer.actor == termination.decided_by:
        raise Conflict(
            f"{TWO_PERSON_RULE}: termination {termination.id} was proposed by this token; a "
            "different operator must confirm it",
            field="confirmed_by",
        )
    if contract.state not in LIVE:
        raise Conflict(
            f"contract {contract.id} is {contract.state}; it cannot be terminated now", field="state"
        )
    if termination.kind in _ARREARS_KINDS and is_paid_up(session, contract, seoul_date(now)):
        raise Conflict(
            f"contract {contract.id} is paid up (nothing overdue once its customer's credit is "
            f"counted): a {termination.kind} termination is refused (Art. 21(1), 35(3))",
            field="contract_id",
        )


def is_paid_up(session: Session, contract: Contract, today: date) -> bool:
    """Nothing of the contract is past due once amounts under open dispute are left out (Art. 35(1)), or
    the customer's cash credit covers all of it (Art. 35(3))."""
    rows = session.exec(
        select(Invoice.id, col(Invoice.total) - col(Invoice.paid_amount)).where(
            Invoice.contract_id == contract.id,
            col(Invoice.due_date) < today,
            col(Invoice.paid_amount) < col(Invoice.total),
        )
    ).all()
    disputed = open_disputed_amounts(session, [int(i or 0) for i, _ in rows])
    overdue = sum(max(0, int(unpaid) - disputed.get(int(i or 0), 0)) for i, unpaid in rows)
    return overdue <= max(0, credit_balance(session, contract.customer_id))
