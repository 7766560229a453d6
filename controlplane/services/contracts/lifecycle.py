"""Contracts (Art. 5-9): apply, automatic and operator holds, approve, activate, plan changes, add-ons.

Every state change goes through the terms' state machine (`terms.lifecycle.transition`) on a locked
contract row, and is audited (actor, time, clause, before/after) in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.billing import AddOn, FeePeriod
from controlplane.models.customer import Contract, ContractState, Customer
from controlplane.notify.messages import approval_notice, later_opening_notice
from controlplane.policy_registry import current_policy, pinned_policy
from controlplane.schemas.contracts import (
    AddOnCreate,
    ContractActivate,
    ContractApply,
    ContractHold,
    PlanChange,
)
from controlplane.services.audit import record_change
from controlplane.services.billing.fee_periods import changes_after, keep_fee_before
from controlplane.services.billing.payments import customer_overdue_amount
from controlplane.services.contract_lock import lock_contract
from controlplane.services.contracts.plan_changes import CLAUSE as PLAN_CHANGE_CLAUSE
from controlplane.services.contracts.plan_changes import resize_on_effective_date, size_columns
from controlplane.services.customers import get_customer
from controlplane.services.notices import queue_notice
from controlplane.terms.approval import ApplicantFacts, Hold, HoldReason, automatic_holds, hold_clause
from controlplane.terms.calendar import seoul_date
from controlplane.terms.errors import IllegalTransition
from controlplane.terms.lifecycle import Event, Transition, transition
from controlplane.terms.refund import MONTHS_PREPAID
from controlplane.terms.renewal import base_term

_HOLD_ITEMS = list(HoldReason)  # Art. 8 items 1..9 in order


def contract_snapshot(contract: Contract) -> dict[str, Any]:
    return contract.model_dump(mode="json", exclude={"created_at", "updated_at"})


def get_contract(
    session: Session, contract_id: int, *, lock: bool = False, field: str = "contract_id"
) -> Contract:
    """The contract; `lock` takes its write lock for a state change (`contract_lock.lock_contract`, the
    one helper every locking path uses: FOR UPDATE on PostgreSQL, the database write lock on SQLite)."""
    if lock:
        return lock_contract(session, contract_id, field=field)
    contract = session.exec(select(Contract).where(Contract.id == contract_id)).first()
    if contract is None:
        raise NotFound(f"no contract {contract_id}", field=field)
    return contract


def list_contracts(
    session: Session, *, customer_id: int | None = None, limit: int = 100, offset: int = 0
) -> list[Contract]:
    query = select(Contract).order_by(col(Contract.id)).offset(offset).limit(limit)
    if customer_id is not None:
        query = query.where(Contract.customer_id == customer_id)
    return list(session.exec(query).all())


def _step(contract: Contract, event: Event) -> Transition:
    try:
        return transition(contract.state, event)
    except IllegalTransition as exc:
        raise Conflict(
            f"cannot {event.value} contract {contract.id}: it is {exc.current_state}", field="state"
        ) from exc


def _apply_transition(
    session: Session,
    contract: Contract,
    event: Event,
    *,
    now: datetime,
    actor: str,
    reason: str | None,
    clause: str | None = None,
    changes: dict[str, Any] | None = None,
) -> Transition:
    """Moves the (locked) contract through the state machine and audits before/after with the clause."""
    step = _step(contract, event)
    before = contract_snapshot(contract)
    contract.state = step.target.value
    contract.state_reason = reason
    for name, value in (changes or {}).items():
        setattr(contract, name, value)
    contract.updated_at = now
    session.add(contract)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=contract.id or 0,
        action=event.value,
        clause=clause or str(step.clause),
        before=before,
        after=contract_snapshot(contract),
    )
    return step


def apply_for_contract(session: Session, *, now: datetime, actor: str, data: ContractApply) -> Contract:
    """Files an application (Art. 5, 6) pinned to the current terms version, then runs the Art. 8 checks."""
    customer = get_customer(session, data.customer_id)
    if data.discount > data.monthly_fee:
        raise InvalidInput("discount must not exceed the monthly fee", field="discount")
    _check_annual_prepay_discount(data)
    if data.desired_open_date < seoul_date(now):
        raise InvalidInput("the desired open date is in the past", field="desired_open_date")
    contract = Contract(
        **data.model_dump(),
        state=ContractState.APPLIED,
        terms_version=current_policy(seoul_date(now)).version,
        created_at=now,
        updated_at=now,
    )
    session.add(contract)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=contract.id or 0,
        action="apply",
        clause="Art. 5, Art. 6",
        after=contract_snapshot(contract),
    )
    holds = automatic_holds(_applicant_facts(session, customer, contract, now))
    if holds:
        _hold(session, contract, holds, now=now, actor="system:approval-review")
    session.commit()
    return contract


def _check_annual_prepay_discount(data: ContractApply) -> None:
    """Art. 30(2)-3: the prepay discount belongs to annual prepayment and cannot exceed the year's fees."""
    if not data.annual_prepay_discount:
        return
    if data.billing_cycle != "annual_prepaid":
        raise InvalidInput(
            "an annual-prepay discount needs billing_cycle annual_prepaid", field="annual_prepay_discount"
        )
    year = MONTHS_PREPAID * (data.monthly_fee - data.discount)
    if data.annual_prepay_discount > year:
        raise InvalidInput(
            f"the annual-prepay discount must not exceed 12 discounted monthly fees ({year:,})",
            field="annual_prepay_discount",
        )


def _applicant_facts(
    session: Session, customer: Customer, contract: Contract, now: datetime
) -> ApplicantFacts:
    unpaid = customer_overdue_amount(
        session, customer_id=customer.id or 0, as_of=seoul_date(now), exclude_contract_id=contract.id
    )
    return ApplicantFacts(
        unpaid_on_other_services=unpaid,
        has_delinquency_record=customer.has_delinquency_record,
        is_minor=customer.is_minor,
    )


def _hold(
    session: Session,
    contract: Contract,
    holds: list[Hold],
    *,
    now: datetime,
    actor: str,
    note: str | None = None,
) -> None:
    reasons = ", ".join(f"{h.reason.value} ({h.clause})" for h in holds)
    clause = ", ".join(dict.fromkeys(str(h.clause) for h in holds))
    text = f"{reasons}: {note}" if note else reasons
    _apply_transition(session, contract, Event.HOLD, now=now, actor=actor, reason=text[:400], clause=clause)


def hold_contract(
    session: Session, *, now: datetime, actor: str, contract_id: int, data: ContractHold
) -> Contract:
    """An operator withholds approval for one of the reasons of Art. 8(1)-(9)."""
    contract = get_contract(session, contract_id, lock=True)
    reason = _HOLD_ITEMS[data.item - 1]
    _hold(session, contract, [Hold(reason, hold_clause(reason), False)], now=now, actor=actor, note=data.note)
    session.commit()
    return contract


def approve_contract(session: Session, *, now: datetime, actor: str, contract_id: int) -> Contract:
    """Approves (Art. 7) and queues the Art. 7(2) notice (open date, fees, rights) in the same transaction."""
    contract = get_contract(session, contract_id, lock=True)
    _apply_transition(session, contract, Event.APPROVE, now=now, actor=actor, reason=None)
    draft = approval_notice(
        contract_id=contract.id or 0,
        plan=contract.plan,
        open_date=contract.desired_open_date,
        monthly_fee=contract.monthly_fee,
        discount=contract.discount,
        terms_version=contract.terms_version,
    )
    queue_notice(
        session,
        customer=get_customer(session, contract.customer_id),
        contract_id=contract.id,
        draft=draft,
        dedupe_key=f"contract:{contract.id}:approval",
        now=now,
    )
    session.commit()
    return contract


def activate_contract(
    session: Session, *, now: datetime, actor: str, contract_id: int, data: ContractActivate
) -> Contract:
    """Opens the service (Art. 9(1)): the term runs from the open date for the base term (Art. 18)."""
    contract = get_contract(session, contract_id, lock=True)
    _step(contract, Event.OPEN)  # a 409 naming the state comes before any input complaint
    open_date = data.open_date or contract.desired_open_date
    if open_date < contract.desired_open_date:
        raise InvalidInput("the service cannot open before the desired open date", field="open_date")
    if open_date > contract.desired_open_date and not data.reason:
        raise InvalidInput(
            "opening later than the desired date needs the reason sent (Art. 9(1))", field="reason"
        )
    term = base_term(open_date, pinned_policy(contract.terms_version))
    _apply_transition(
        session,
        contract,
        Event.OPEN,
        now=now,
        actor=actor,
        reason=data.reason,
        changes={"term_start": term.first, "term_end": term.last},
    )
    session.add(
        FeePeriod(
            contract_id=contract.id or 0,
            effective_from=open_date,
            monthly_fee=contract.monthly_fee,
            discount=contract.discount,
            plan=contract.plan,
        )
    )
    if open_date > contract.desired_open_date:
        customer = session.get(Customer, contract.customer_id)
        assert customer is not None  # a contract's customer is a foreign key
        draft = later_opening_notice(
            contract_id=contract.id or 0,
            desired=contract.desired_open_date,
            open_date=open_date,
            reason=data.reason or "",
        )
        queue_notice(
            session,
            customer=customer,
            contract_id=contract.id,
            draft=draft,
            dedupe_key=f"contract:{contract.id}:later-opening",
            now=now,
        )
    session.commit()
    return contract


def change_plan(
    session: Session, *, now: datetime, actor: str, contract_id: int, data: PlanChange
) -> FeePeriod:
    """A new fee from a date on; the month it falls in is prorated by day (Art. 32(2)). A server size
    reaches the servers on the effective date (`plan_changes`); it is checked now."""
    contract = get_contract(session, contract_id, lock=True)
    if contract.state not in (ContractState.ACTIVE, ContractState.RESTRICTED):
        raise Conflict(
            f"cannot change the plan of contract {contract.id}: it is {contract.state}", field="state"
        )
    if data.discount > data.monthly_fee:
        raise InvalidInput("discount must not exceed the monthly fee", field="discount")
    if contract.term_start is None or data.effective_from <= contract.term_start:
        raise InvalidInput("a plan change takes effect after the term start", field="effective_from")
    existing = session.exec(
        select(FeePeriod).where(
            FeePeriod.contract_id == contract_id, FeePeriod.effective_from == data.effective_from
        )
    ).first()
    if existing is not None:
        raise Conflict(f"a plan change already takes effect on {data.effective_from}", field="effective_from")
    before = contract_snapshot(contract)
    keep_fee_before(session, contract, data.effective_from)
    period = FeePeriod(
        contract_id=contract_id,
        effective_from=data.effective_from,
        monthly_fee=data.monthly_fee,
        discount=data.discount,
        plan=data.plan,
        **size_columns(data.server_size),
    )
    if not changes_after(session, contract_id, data.effective_from):  # the contract keeps the latest
        contract.monthly_fee, contract.discount = data.monthly_fee, data.discount
        contract.plan = data.plan or contract.plan
    contract.updated_at = now
    session.add_all([period, contract])
    if data.server_size is not None:  # the servers change on the effective date, not before
        resize_on_effective_date(session, period=period, size=data.server_size, now=now, actor=actor)
    after = {**contract_snapshot(contract), "effective_from": str(data.effective_from)}
    if data.server_size is not None:
        after["server_size"] = data.server_size.model_dump(exclude_none=True)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=contract_id,
        action="change_plan",
        clause=PLAN_CHANGE_CLAUSE,
        before=before,
        after=after,
    )
    session.commit()
    return period


def add_add_on(session: Session, *, now: datetime, actor: str, contract_id: int, data: AddOnCreate) -> AddOn:
    """An add-on service (Art. 30(2)-2): one-off or monthly, free when the fee is 0."""
    contract = get_contract(session, contract_id, lock=True)
    if contract.state in (ContractState.TERMINATING, ContractState.TERMINATED):
        raise Conflict(f"cannot add to contract {contract.id}: it is {contract.state}", field="state")
    if data.ended_on is not None and data.ended_on < data.started_on:
        raise InvalidInput("an add-on cannot end before it starts", field="ended_on")
    add_on = AddOn(contract_id=contract_id, **data.model_dump())
    session.add(add_on)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=contract_id,
        action="add_add_on",
        clause="Art. 30(2)",
        after=add_on.model_dump(mode="json", exclude={"removed_at"}),
    )
    session.commit()
    return add_on
