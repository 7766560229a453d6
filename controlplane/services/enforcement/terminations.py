"""Terminations (Art. 20, 21): decided, started (contract `terminating`, servers stopped, add-ons removed),
wiped once the notice is out, completed only once every server's deletion record is in (addresses
released, contract `terminated`). Irreversible, so nothing is deleted on one person's word:

- an `ex_officio` or `insolvency` termination is *proposed* (billing or operator) and starts only when a
  different operator token confirms it; billing, the proposer's own token, or a contract that is paid up
  are refused (409 naming the rule);
- a customer's termination starts after its last day of service (`effective_on`) has ended in Seoul, by
  the sweep, and can be withdrawn until then;
- the servers are ordered deleted only once the termination notice reached the mail relay (or exhausted
  its retries, which pages an operator), and every destructive step re-checks the contract state under
  its lock.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.customer import Contract
from controlplane.models.enforcement import Termination
from controlplane.models.workflows import FeeIncrease
from controlplane.policy_registry import pinned_policy
from controlplane.schemas.enforcement import TerminationCreate
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement.termination_effects import start_termination
from controlplane.services.enforcement.termination_money import fault_penalty, settlement_amounts
from controlplane.services.enforcement.termination_rules import LIVE, Confirmer, check_confirmable
from controlplane.services.tenancy import contracts_of
from controlplane.terms.calendar import seoul_date
from controlplane.terms.deadlines import earliest_termination_date
from controlplane.terms.lifecycle import TerminationKind
from controlplane.terms.policy import Policy

_K = TerminationKind
_CLAUSES = {
    _K.CUSTOMER_REQUEST: "Art. 20(2)",
    _K.EX_OFFICIO: "Art. 21(1)",
    _K.INSOLVENCY: "Art. 20(5)",
    _K.NONPAYMENT: "Art. 21(1)",
    _K.CURE_FAILED: "Art. 21(4)",
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def termination_snapshot(t: Termination) -> dict[str, object]:
    return {
        "kind": t.kind,
        "clause": t.clause,
        "effective_on": str(t.effective_on),
        "penalty": t.penalty,
        "refund": t.refund,
        "decided_by": t.decided_by,
        "confirmed_by": t.confirmed_by,
        "withdrawn_at": _iso(t.withdrawn_at),
        "started_at": _iso(t.started_at),
        "wipe_ordered_at": _iso(t.wipe_ordered_at),
        "ended_at": _iso(t.ended_at),
        "completed_at": _iso(t.completed_at),
    }


def request_termination(
    session: Session,
    *,
    contract_id: int,
    request: TerminationCreate,
    now: datetime,
    actor: str,
    token_id: int | None = None,
    policy: Policy | None = None,
) -> Termination:
    """A customer's request (>= 7 days notice, no later than the contract's end; settled per Art. 32(3),
    20(7)) is recorded and starts after its last day; an ex-officio or insolvency termination is only
    proposed: it waits for a second operator (`confirm_termination`). Nothing starts here.
    Notice days and penalty are the contract's pinned version's (`policy` overrides it)."""
    contract = lock_contract(session, contract_id)
    if contract.state not in LIVE:
        raise Conflict(
            f"contract {contract_id} is {contract.state}; it cannot be terminated now", field="state"
        )
    if request.refused_fee_increase:
        _check_fee_increase_refused(session, contract_id)
    policy = policy or pinned_policy(contract.terms_version)
    today = seoul_date(now)
    effective_on = _effective_on(request, today, contract, policy)
    customer = request.kind == TerminationKind.CUSTOMER_REQUEST
    penalty, refund = (
        settlement_amounts(session, contract, effective_on, request.refused_fee_increase, policy)
        if customer
        else (0, 0)
    )
    termination = _filled(
        _reusable(session, contract_id),
        contract_id,
        {
            "kind": request.kind,
            "clause": request.clause or _CLAUSES[request.kind],
            "reason": request.reason,
            "requested_at": now,
            "effective_on": effective_on,
            "refused_fee_increase": request.refused_fee_increase,
            "penalty": penalty,
            "refund": refund,
            "decided_by": actor,
            "proposed_by_token": token_id,
            # A customer's own request needs no second operator; its wipe waits for its date to pass.
            "confirmed_by": actor if customer else None,
            "confirmed_by_token": token_id if customer else None,
            "confirmed_at": now if customer else None,
        },
    )
    _insert(session, termination)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="termination",
        entity_id=termination.id or 0,
        action=f"{'decide' if customer else 'propose'}:{request.kind}",
        clause=termination.clause,
        after=termination_snapshot(termination),
    )
    session.commit()
    return termination


def _reusable(session: Session, contract_id: int) -> Termination | None:
    """A withdrawn termination's row is taken over by a new one (one row per contract, by the database);
    its history stays in the audit trail. Any other existing termination is a conflict."""
    existing = session.exec(select(Termination).where(Termination.contract_id == contract_id)).first()
    if existing is None:
        return None
    if existing.withdrawn_at is None:
        raise Conflict(
            f"contract {contract_id} already has a termination ({existing.id})", field="contract_id"
        )
    return existing


def _check_fee_increase_refused(session: Session, contract_id: int) -> None:
    """Art. 17(3): the penalty-free termination is open only to a customer who refused a fee increase."""
    refused = session.exec(
        select(FeeIncrease).where(FeeIncrease.contract_id == contract_id, FeeIncrease.answer == "refused")
    ).first()
    if refused is None:
        raise InvalidInput(
            f"contract {contract_id} never refused a fee increase (Art. 17(3))", field="refused_fee_increase"
        )


# What a new decision starts from: a withdrawn row taken over is reset to these first.
_BLANK: dict[str, object] = {
    "refused_fee_increase": False,
    "penalty": 0,
    "refund": 0,
    "proposed_by_token": None,
    "confirmed_by": None,
    "confirmed_by_token": None,
    "confirmed_at": None,
    "withdrawn_at": None,
    "withdrawn_by": None,
    "started_at": None,
    "wipe_ordered_at": None,
    "ended_at": None,
    "completed_at": None,
}


def _filled(existing: Termination | None, contract_id: int, fields: dict[str, object]) -> Termination:
    """A new termination, or a withdrawn one's row taken over, holding `fields` and nothing of before."""
    fields = {**_BLANK, **fields}
    if existing is None:
        return Termination.model_validate({"contract_id": contract_id, **fields})
    existing.sqlmodel_update(fields)
    return existing


def _effective_on(request: TerminationCreate, today: date, contract: Contract, policy: Policy) -> date:
    if request.kind != TerminationKind.CUSTOMER_REQUEST:
        return today
    if request.effective_on is None:
        raise InvalidInput("a customer's termination names the requested day", field="effective_on")
    earliest = earliest_termination_date(today, policy=policy)
    if request.effective_on < earliest:
        raise InvalidInput(
            f"Art. 20(2) needs {policy.termination_notice_days} days notice: the earliest "
            f"day is {earliest.isoformat()}",
            field="effective_on",
        )
    if contract.term_end is not None and request.effective_on > contract.term_end:
        raise InvalidInput(
            f"the contract ends on {contract.term_end.isoformat()}; a termination date after "
            "that is not a termination (Art. 18, 20(2))",
            field="effective_on",
        )
    return request.effective_on


def _insert(session: Session, termination: Termination) -> None:
    session.add(termination)
    try:
        session.flush()
    except IntegrityError as exc:  # one termination per contract, by the database
        session.rollback()
        raise Conflict(
            f"contract {termination.contract_id} already has a termination", field="contract_id"
        ) from exc


def record_eligible(
    session: Session,
    contract: Contract,
    *,
    kind: TerminationKind,
    clause: str,
    reason: str,
    effective_on: date,
    at: datetime,
    actor: str,
) -> Termination | None:
    """Lists a contract as eligible for termination; an operator must confirm (Art. 21(4))."""
    existing = session.exec(select(Termination).where(Termination.contract_id == contract.id)).first()
    if existing is not None and existing.withdrawn_at is None:
        return None
    termination = _filled(
        existing,
        contract.id or 0,
        {
            "kind": kind,
            "clause": clause,
            "reason": reason[:400],
            "requested_at": at,
            "effective_on": effective_on,
            "decided_by": actor,
        },
    )
    session.add(termination)
    session.flush()
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="termination",
        entity_id=termination.id or 0,
        action=f"eligible:{kind}",
        clause=clause,
        after=termination_snapshot(termination),
    )
    return termination


def confirm_termination(
    session: Session, *, termination_id: int, now: datetime, confirmer: Confirmer
) -> Termination:
    """A second operator confirms a proposed termination; it starts at once (its wipe once the notice is
    out). Every rule is re-checked here, under the contract lock, at the moment it is confirmed."""
    termination = get_termination(session, termination_id)
    contract = lock_contract(session, termination.contract_id)
    session.refresh(termination)
    check_confirmable(session, termination, contract, now, confirmer)
    policy = pinned_policy(contract.terms_version)
    before = termination_snapshot(termination)
    termination.confirmed_by, termination.confirmed_by_token = confirmer.actor, confirmer.token_id
    termination.confirmed_at = now
    termination.effective_on = seoul_date(now)
    termination.penalty = fault_penalty(session, contract, termination, policy)
    session.add(termination)
    record_change(
        session,
        at=now,
        actor=confirmer.actor,
        entity_type="termination",
        entity_id=termination_id,
        action="confirm",
        clause=termination.clause,
        before=before,
        after=termination_snapshot(termination),
    )
    start_termination(session, contract, termination, at=now, actor=confirmer.actor)
    session.commit()
    return termination


def withdraw_termination(
    session: Session, *, termination_id: int, now: datetime, actor: str, reason: str
) -> Termination:
    """A termination not yet started is withdrawn (a customer's until its last day has ended, a proposal
    until it is confirmed); the contract carries on as it was."""
    termination = get_termination(session, termination_id)
    lock_contract(session, termination.contract_id)
    session.refresh(termination)
    if termination.withdrawn_at is not None:
        raise Conflict(f"termination {termination_id} was already withdrawn", field="termination_id")
    if termination.started_at is not None:
        raise Conflict(
            f"termination {termination_id} started on {termination.started_at.isoformat()}; "
            "servers and data are being deleted and cannot be restored (Art. 20(8))",
            field="termination_id",
        )
    before = termination_snapshot(termination)
    termination.withdrawn_at, termination.withdrawn_by = now, actor
    session.add(termination)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="termination",
        entity_id=termination_id,
        action="withdraw",
        clause=termination.clause,
        before=before,
        after={**termination_snapshot(termination), "reason": reason[:400]},
    )
    session.commit()
    return termination


def decide_by_policy(
    session: Session,
    contract: Contract,
    *,
    kind: TerminationKind,
    clause: str,
    reason: str,
    at: datetime,
    actor: str,
) -> Termination:
    """Art. 21(1) with `auto_terminate_nonpayment`: decided and confirmed by the policy itself (the sweep
    re-decided it from fresh facts under the contract lock a moment ago); bears the Art. 20(4) penalty.
    A proposal still waiting for its second operator is taken over: it decided nothing yet."""
    existing = session.exec(select(Termination).where(Termination.contract_id == contract.id)).first()
    if existing is not None and existing.withdrawn_at is None and existing.confirmed_by is not None:
        return existing
    superseded = (
        termination_snapshot(existing) if existing is not None and existing.withdrawn_at is None else None
    )
    confirmed_by = f"policy:auto_terminate_nonpayment ({actor})"
    termination = _filled(
        existing,
        contract.id or 0,
        {
            "kind": kind,
            "clause": clause,
            "reason": reason[:400],
            "requested_at": at,
            "effective_on": seoul_date(at),
            "decided_by": actor,
            "confirmed_by": confirmed_by,
            "confirmed_at": at,
        },
    )
    termination.penalty = fault_penalty(session, contract, termination, pinned_policy(contract.terms_version))
    session.add(termination)
    session.flush()
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="termination",
        entity_id=termination.id or 0,
        action=f"decide:{kind}",
        clause=clause,
        before=superseded,
        after=termination_snapshot(termination),
    )
    return termination


def get_termination(session: Session, termination_id: int) -> Termination:
    termination = session.get(Termination, termination_id)
    if termination is None:
        raise NotFound(f"no termination {termination_id}", field="termination_id")
    return termination


def list_terminations(
    session: Session, *, pending_only: bool = False, customer_id: int | None = None
) -> list[Termination]:
    """Terminations by id; `customer_id` keeps a tenant's own."""
    query = select(Termination)
    if customer_id is not None:
        query = query.where(col(Termination.contract_id).in_(contracts_of(customer_id)))
    if pending_only:
        query = query.where(col(Termination.confirmed_by).is_(None), col(Termination.withdrawn_at).is_(None))
    return list(session.exec(query.order_by(col(Termination.id))).all())
