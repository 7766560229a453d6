"""Open-date postponement (Art. 9(2), 23(2)) and legal succession (Art. 19).

Postponement: a customer moves its planned open date O later by notice on or before O-3 (a named day,
not an elapsed period: on O-2 it is too late). Succession: filed within 30 days of the event (the
event's day not counted, so through the end of E+30), accepted only when every fee up to the event is
paid; the contract then belongs to the successor with its servers, addresses and history (invoices,
payments and the audit trail stay attached to the contract), and the move itself is audited.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.billing import Invoice
from controlplane.models.customer import Contract, ContractState, Customer
from controlplane.models.workflows import Succession
from controlplane.policy_registry import pinned_policy
from controlplane.schemas.workflows import (
    DeadlinePublic,
    PostponeOpenDate,
    SuccessionCreate,
    SuccessionPublic,
)
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement.effects import contract_snapshot, queue_contract_notice
from controlplane.terms.calendar import seoul_date
from controlplane.terms.deadlines import Deadline, open_date_postponement_notice, succession_filing
from network.models import AddressLease

_NOT_OPEN = (ContractState.APPLIED, ContractState.HELD, ContractState.APPROVED)
_SUCCEEDABLE = (ContractState.APPROVED, ContractState.ACTIVE, ContractState.RESTRICTED)


def postpone_open_date(
    session: Session, *, contract_id: int, request: PostponeOpenDate, now: datetime, actor: str
) -> Contract:
    contract = lock_contract(session, contract_id)
    if contract.state not in _NOT_OPEN:
        raise Conflict(f"contract {contract_id} is {contract.state}: its service has opened", field="state")
    if request.new_open_date <= contract.desired_open_date:
        raise InvalidInput("a postponement moves the open date later", field="new_open_date")
    deadline = open_date_postponement_notice(
        contract.desired_open_date, policy=pinned_policy(contract.terms_version)
    )
    if not deadline.is_met_by(seoul_date(now)):
        raise Conflict(
            f"the open date {contract.desired_open_date.isoformat()} could be postponed until the end of "
            f"{deadline.on.isoformat()} ({deadline.clause}: at least 3 days before it)",
            field="new_open_date",
        )
    before = contract_snapshot(contract) | {"desired_open_date": contract.desired_open_date.isoformat()}
    contract.desired_open_date, contract.updated_at = request.new_open_date, now
    session.add(contract)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=contract_id,
        action="postpone_open_date",
        clause=str(deadline.clause),
        before=before,
        after={
            "desired_open_date": request.new_open_date.isoformat(),
            "reason": request.reason,
            "deadline": DeadlinePublic.of(deadline).model_dump(mode="json"),
        },
    )
    session.commit()
    return contract


def file_succession(
    session: Session, *, contract_id: int, request: SuccessionCreate, now: datetime, actor: str
) -> SuccessionPublic:
    contract = lock_contract(session, contract_id)
    if contract.state not in _SUCCEEDABLE:
        raise Conflict(f"contract {contract_id} is {contract.state}: nothing to succeed to", field="state")
    successor = session.get(Customer, request.to_customer_id)
    if successor is None:
        raise NotFound(f"no customer {request.to_customer_id}", field="to_customer_id")
    if successor.id == contract.customer_id:
        raise InvalidInput("the successor is another customer", field="to_customer_id")
    deadline = succession_filing(request.event_on, policy=pinned_policy(contract.terms_version))
    _check_filing_day(request.event_on, seoul_date(now), deadline.on)
    _check_paid_up_to(session, contract, request.event_on)
    succession = Succession(
        contract_id=contract_id,
        from_customer_id=contract.customer_id,
        to_customer_id=successor.id or 0,
        kind=request.kind,
        event_on=request.event_on,
        filed_at=now,
        filed_by=actor,
    )
    session.add(succession)
    session.flush()
    before = contract_snapshot(contract) | {"customer_id": contract.customer_id}
    contract.customer_id, contract.updated_at = successor.id or 0, now
    session.add(contract)
    moved = _move_addresses(session, contract_id, successor.id or 0)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=contract_id,
        action="succession",
        clause="Art. 19",
        before=before,
        after={
            "customer_id": contract.customer_id,
            "succession_id": succession.id,
            "kind": request.kind,
            "event_on": request.event_on.isoformat(),
            "address_leases": moved,
        },
    )
    queue_contract_notice(
        session,
        contract,
        kind="succession_accepted",
        clause="Art. 19",
        subject=f"Contract {contract_id} now runs in your name",
        body=f"Contract {contract_id}, its servers and addresses passed to you by {request.kind} on "
        f"{request.event_on.isoformat()} (Art. 19).\n",
        key=f"succession:{succession.id}:accepted",
        at=now,
    )
    session.commit()
    return present(succession, deadline=deadline)


def present(s: Succession, *, deadline: Deadline | None = None) -> SuccessionPublic:
    out = SuccessionPublic.model_validate(s)
    out.filing_deadline = DeadlinePublic.of(deadline) if deadline is not None else None
    return out


def successions_of(session: Session, contract_id: int) -> list[SuccessionPublic]:
    query = select(Succession).where(Succession.contract_id == contract_id).order_by(col(Succession.id))
    return [present(s) for s in session.exec(query).all()]


def _check_filing_day(event_on: date, today: date, last_day: date) -> None:
    if event_on > today:
        raise InvalidInput("a succession is filed after its event", field="event_on")
    if today > last_day:
        raise Conflict(
            f"a succession of {event_on.isoformat()} could be filed until the end of {last_day.isoformat()} "
            "(Art. 19(2): within 30 days of the event)",
            field="event_on",
        )


def _check_paid_up_to(session: Session, contract: Contract, event_on: date) -> None:
    """Art. 19(3): every invoice for a month of use that began on or before the event is paid in full."""
    unpaid = session.exec(
        select(Invoice.id).where(
            Invoice.contract_id == contract.id,
            col(Invoice.month) <= event_on,
            col(Invoice.paid_in_full_at).is_(None),
        )
    ).all()
    if unpaid:
        ids = ", ".join(str(i) for i in unpaid)
        raise Conflict(
            f"fees up to the event are unpaid (invoices {ids}); a succession needs them paid (Art. 19(3))",
            field="event_on",
        )


def _move_addresses(session: Session, contract_id: int, customer_id: int) -> list[int]:
    """The contract's addresses now show the successor (WHOIS, Art. 24); the lease ids are audited."""
    leases = session.exec(
        select(AddressLease).where(
            AddressLease.contract_id == contract_id, col(AddressLease.released_at).is_(None)
        )
    ).all()
    for lease in leases:
        lease.customer_id = customer_id
        session.add(lease)
    return [lease.id or 0 for lease in leases]
