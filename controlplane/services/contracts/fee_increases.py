"""Fee increases need the customer's consent (Art. 17(2),(3)).

The company proposes a higher fee from a date to each affected contract; nothing changes until the
customer answers. Accepted: the new fee applies from that date (from the acceptance day when accepted
later: consent is never retroactive). Refused: the old fee stays, and the customer may end the contract
without the early-termination penalty (Art. 17(3), checked in `terminations.request_termination`).
Unanswered proposals stay proposals. A plan change the customer asks for is `lifecycle.change_plan`.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.billing import FeePeriod
from controlplane.models.customer import Contract, ContractState
from controlplane.models.workflows import FeeIncrease
from controlplane.schemas.workflows import FeeIncreaseCreate, FeeIncreasePublic
from controlplane.services.audit import record_change
from controlplane.services.billing.fee_periods import changes_after, fee_in_force, keep_fee_before
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement.effects import queue_contract_notice
from controlplane.terms.calendar import seoul_date

_PROPOSABLE = (ContractState.APPROVED, ContractState.ACTIVE, ContractState.RESTRICTED)


def propose_fee_increase(
    session: Session, *, request: FeeIncreaseCreate, now: datetime, actor: str
) -> list[FeeIncreasePublic]:
    """One proposal per contract, each with its notice; all or none (a bad contract refuses the lot)."""
    made = []
    for contract_id in sorted(set(request.contract_ids)):
        contract = lock_contract(session, contract_id, field="contract_ids")
        in_force = _check_proposable(session, contract, request)
        proposal = FeeIncrease(
            contract_id=contract_id,
            effective_from=request.effective_from,
            old_monthly_fee=in_force,
            new_monthly_fee=request.new_monthly_fee,
            reason=request.reason,
            proposed_at=now,
            proposed_by=actor,
        )
        session.add(proposal)
        session.flush()
        _notify_proposal(session, contract, proposal, now)
        _audit(session, proposal, now=now, actor=actor, action="fee_increase_proposed", clause="Art. 17(2)")
        made.append(proposal)
    session.commit()
    return [FeeIncreasePublic.model_validate(p) for p in made]


def answer_fee_increase(
    session: Session, *, proposal_id: int, answer: str, now: datetime, actor: str
) -> FeeIncreasePublic:
    proposal = session.get(FeeIncrease, proposal_id)
    if proposal is None:
        raise NotFound(f"no fee increase {proposal_id}", field="proposal_id")
    contract = lock_contract(session, proposal.contract_id)
    session.refresh(proposal)
    if proposal.answer is not None:
        raise Conflict(f"fee increase {proposal_id} was already {proposal.answer}", field="answer")
    proposal.answer, proposal.answered_at, proposal.answered_by = answer, now, actor
    session.add(proposal)
    if answer == "accepted":
        _apply_new_fee(session, contract, proposal, now)
    clause = "Art. 17(2)" if answer == "accepted" else "Art. 17(3)"
    _audit(session, proposal, now=now, actor=actor, action=f"fee_increase_{answer}", clause=clause)
    session.commit()
    return FeeIncreasePublic.model_validate(proposal)


def list_fee_increases(session: Session, *, contract_id: int | None = None) -> list[FeeIncreasePublic]:
    query = select(FeeIncrease)
    if contract_id is not None:
        query = query.where(FeeIncrease.contract_id == contract_id)
    return [FeeIncreasePublic.model_validate(p) for p in session.exec(query.order_by(col(FeeIncrease.id)))]


def _check_proposable(session: Session, contract: Contract, request: FeeIncreaseCreate) -> int:
    """The fee in force on the proposal's date (a plan change dated later is not it), once the proposal
    is found to raise it."""
    if contract.state not in _PROPOSABLE:
        raise Conflict(f"contract {contract.id} is {contract.state}: no fee to raise", field="contract_ids")
    in_force, _ = fee_in_force(session, contract, request.effective_from)
    if request.new_monthly_fee <= in_force:
        raise InvalidInput(
            f"{request.new_monthly_fee} KRW is not above contract {contract.id}'s fee of "
            f"{in_force} KRW on {request.effective_from}: only an increase needs consent (Art. 17(2))",
            field="new_monthly_fee",
        )
    pending = session.exec(
        select(FeeIncrease).where(FeeIncrease.contract_id == contract.id, col(FeeIncrease.answer).is_(None))
    ).first()
    if pending is not None:
        raise Conflict(f"contract {contract.id} already has open proposal {pending.id}", field="contract_ids")
    return in_force


def _apply_new_fee(session: Session, contract: Contract, proposal: FeeIncrease, now: datetime) -> None:
    starts = max(proposal.effective_from, seoul_date(now))
    keep_fee_before(session, contract, starts, monthly_fee=proposal.old_monthly_fee)  # the days before it
    taken = session.exec(
        select(FeePeriod).where(FeePeriod.contract_id == contract.id, FeePeriod.effective_from == starts)
    ).first()
    if taken is not None:
        taken.monthly_fee = proposal.new_monthly_fee  # the same day's plan change is superseded
        session.add(taken)
    else:
        session.add(
            FeePeriod(
                contract_id=contract.id or 0,
                effective_from=starts,
                monthly_fee=proposal.new_monthly_fee,
                discount=fee_in_force(session, contract, starts)[1],
            )
        )
    if not changes_after(session, contract.id or 0, starts):  # the contract keeps the latest agreed fee
        contract.monthly_fee = proposal.new_monthly_fee
    contract.updated_at = now
    session.add(contract)


def _notify_proposal(session: Session, contract: Contract, proposal: FeeIncrease, now: datetime) -> None:
    queue_contract_notice(
        session,
        contract,
        kind="fee_increase_proposed",
        clause="Art. 17(2)",
        subject=f"Proposed fee change for contract {contract.id}",
        body=(
            f"We propose to raise the monthly fee of contract {contract.id} from "
            f"{proposal.old_monthly_fee:,} KRW to {proposal.new_monthly_fee:,} KRW "
            f"from {proposal.effective_from.isoformat()}.\n"
            f"Reason: {proposal.reason}\nThe new fee applies only if you accept (Art. 17(2)). If you "
            "refuse, the current fee stays and you may end the contract without penalty (Art. 17(3)).\n"
        ),
        key=f"fee_increase:{proposal.id}:proposed",
        at=now,
    )


def _audit(session: Session, p: FeeIncrease, *, now: datetime, actor: str, action: str, clause: str) -> None:
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=p.contract_id,
        action=action,
        clause=clause,
        after=FeeIncreasePublic.model_validate(p).model_dump(mode="json"),
    )
