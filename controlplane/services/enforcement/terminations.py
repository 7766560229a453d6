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

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.billing import AddOn, CreditEntry, FeePeriod, Invoice, InvoiceLine
from controlplane.models.customer import BillingCycle, Contract, ContractState, Customer
from controlplane.models.enforcement import Termination
from controlplane.models.server import DesiredState, Server
from controlplane.notify.messages import termination_refund_notice
from controlplane.policy_registry import pinned_policy
from controlplane.schemas.enforcement import TerminationCreate
from controlplane.services.audit import record_change
from controlplane.services.billing.credits import credit_balance, settle_with_credit
from controlplane.services.billing.facts import PREPAYMENT_KIND
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement.effects import (
    contract_servers,
    queue_contract_notice,
    set_contract_state,
    set_server_desired,
)
from controlplane.services.enforcement.termination_settlement import settle_if_paid
from controlplane.services.notices import email_notice_out, on_notice_settled, queue_notice
from controlplane.terms.actions import NoticeKind
from controlplane.terms.calendar import YearMonth, seoul_date
from controlplane.terms.clauses import ART_20_7
from controlplane.terms.deadlines import earliest_termination_date
from controlplane.terms.lifecycle import TerminationKind
from controlplane.terms.money import floor_won
from controlplane.terms.penalty import early_termination_penalty, monthly_rate
from controlplane.terms.policy import Policy
from controlplane.terms.refund import annual_prepay_refund
from network.service import release_server_addresses

_K = TerminationKind
_CLAUSES = {
    _K.CUSTOMER_REQUEST: "Art. 20(2)",
    _K.EX_OFFICIO: "Art. 21(1)",
    _K.INSOLVENCY: "Art. 20(5)",
    _K.NONPAYMENT: "Art. 21(1)",
    _K.CURE_FAILED: "Art. 21(4)",
}
_LIVE = (ContractState.ACTIVE, ContractState.RESTRICTED)
# Kinds whose ground is money owed: a contract that is paid up (credit counted) is never terminated by them.
_ARREARS_KINDS = frozenset({_K.EX_OFFICIO, _K.INSOLVENCY, _K.NONPAYMENT})
TWO_PERSON_RULE = "two-person rule (Art. 20(5), 21; nothing irreversible on one person's word)"


@dataclass(frozen=True, slots=True)
class Confirmer:
    """Who confirms: the confirming token must differ from the proposer's and be an operator's."""

    actor: str
    role: str
    token_id: int | None


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
    if contract.state not in _LIVE:
        raise Conflict(
            f"contract {contract_id} is {contract.state}; it cannot be terminated now", field="state"
        )
    policy = policy or pinned_policy(contract.terms_version)
    today = seoul_date(now)
    effective_on = _effective_on(request, today, contract, policy)
    customer = request.kind == TerminationKind.CUSTOMER_REQUEST
    penalty, refund = (
        _settlement(session, contract, effective_on, request.refused_fee_increase, policy)
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
            "withdrawn_at": None,
            "withdrawn_by": None,
            "started_at": None,
            "wipe_ordered_at": None,
            "ended_at": None,
            "completed_at": None,
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


def _filled(existing: Termination | None, contract_id: int, fields: dict[str, object]) -> Termination:
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


def _settlement(
    session: Session, contract: Contract, last_day: date, refused_fee_increase: bool, policy: Policy
) -> tuple[int, int]:
    """Penalty (Art. 32(3), none after a refused fee increase, 17(3)) and annual-prepay refund (20(7))."""
    if contract.term_end is None or last_day >= contract.term_end:
        return 0, 0
    fees = _recent_plan_fees(session, contract, YearMonth.of(last_day), policy)
    penalty = early_termination_penalty(
        fees, last_day, contract.term_end, refused_fee_increase=refused_fee_increase, policy=policy
    ).amount
    if contract.billing_cycle != BillingCycle.ANNUAL_PREPAID or contract.term_start is None:
        return penalty, 0
    prepaid = _prepaid_for_term(session, contract)
    if prepaid == 0:  # nothing prepaid for this term: no refund; what is owed stays owed (Art. 20(2))
        return penalty, 0
    refund = annual_prepay_refund(
        prepaid, contract.annual_prepay_discount, contract.term_start, last_day, penalty
    ).amount
    return penalty, refund


def _prepaid_for_term(session: Session, contract: Contract, paid_by: datetime | None = None) -> int:
    """Art. 20(7): what was really prepaid for the current term: its prepayment line (Art. 30(2)-3), once
    the invoice carrying it is paid in full; billed but unpaid is arrears, not a prepayment. `paid_by`
    replays the decision: only what was paid when the refund was computed counts."""
    query = (
        select(InvoiceLine.amount)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(
            Invoice.contract_id == contract.id,
            InvoiceLine.kind == PREPAYMENT_KIND,
            InvoiceLine.period_from == contract.term_start,
            col(Invoice.paid_in_full_at).is_not(None),
        )
    )
    if paid_by is not None:
        query = query.where(col(Invoice.paid_in_full_at) <= paid_by)
    return sum(int(amount) for amount in session.exec(query).all())


def billable_penalty(session: Session, contract: Contract, termination: Termination) -> int:
    """The Art. 32(3) penalty still to invoice: Art. 20(7) already took the penalty out of an annual
    prepayment's refund, so only the part the unused prepayment could not cover is billed (else the
    customer would pay it twice). Recomputed from the decision's own facts, floored once at the end."""
    if termination.penalty <= 0:
        return 0
    if contract.billing_cycle != BillingCycle.ANNUAL_PREPAID or contract.term_start is None:
        return termination.penalty
    prepaid = _prepaid_for_term(session, contract, paid_by=termination.requested_at)
    if prepaid == 0:
        return termination.penalty
    unused = annual_prepay_refund(
        prepaid, contract.annual_prepay_discount, contract.term_start, termination.effective_on
    )
    covered = max(Fraction(0), prepaid - unused.fee_for_period_used - contract.annual_prepay_discount)
    return max(0, floor_won(termination.penalty - covered))


def _recent_plan_fees(
    session: Session, contract: Contract, month: YearMonth, policy: Policy
) -> list[int | Fraction]:
    """Art. 32(3): the monthly *rates* (net of the agreed discount) of the last months of service before
    the termination month, oldest first; a month with a fee change averages its rates by day, and a
    partly used first month counts its full rate (never a prorated bill)."""
    periods = session.exec(
        select(FeePeriod).where(FeePeriod.contract_id == contract.id).order_by(col(FeePeriod.effective_from))
    ).all()
    rates = [(p.effective_from, max(0, p.monthly_fee - p.discount)) for p in periods]
    current = max(0, contract.monthly_fee - contract.discount)
    if not rates:
        return [current]
    start = rates[0][0]  # the open date: earlier terms' months count too
    found: list[int | Fraction] = []
    cursor = month.previous()
    while cursor >= YearMonth.of(start) and len(found) < policy.penalty_fee_history_months:
        rate = monthly_rate(cursor, rates, start, cursor.last_day)
        if rate is not None:
            found.insert(0, rate)
        cursor = cursor.previous()
    return found or [current]


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
            "proposed_by_token": None,
            "confirmed_by": None,
            "confirmed_by_token": None,
            "confirmed_at": None,
            "withdrawn_at": None,
            "withdrawn_by": None,
            "penalty": 0,
            "refund": 0,
            "started_at": None,
            "wipe_ordered_at": None,
            "ended_at": None,
            "completed_at": None,
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
    _check_confirmable(session, termination, contract, now, confirmer)
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


def _check_confirmable(
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
    if contract.state not in _LIVE:
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
    """Nothing of the contract is past due, or the customer's cash credit covers all of it (Art. 35(3))."""
    overdue = session.exec(
        select(func.coalesce(func.sum(col(Invoice.total) - col(Invoice.paid_amount)), 0)).where(
            Invoice.contract_id == contract.id,
            col(Invoice.due_date) < today,
            col(Invoice.paid_amount) < col(Invoice.total),
        )
    ).one()
    return int(overdue) <= max(0, credit_balance(session, contract.customer_id))


def fault_penalty(session: Session, contract: Contract, termination: Termination, policy: Policy) -> int:
    """Art. 20(4), 32(3): a termination caused by the customer's fault (ex officio, nonpayment) bears the
    early-termination penalty when the policy says so; insolvency (Art. 20(5)) bears none automatically."""
    at_fault = termination.kind in (_K.EX_OFFICIO, _K.NONPAYMENT, _K.CURE_FAILED)
    if not at_fault or not policy.penalty_on_ex_officio:
        return termination.penalty
    return _settlement(session, contract, termination.effective_on, False, policy)[0]


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


def start_termination(
    session: Session, contract: Contract, termination: Termination, *, at: datetime, actor: str
) -> None:
    """Contract `terminating`, every server stopped, add-ons removed (Art. 20(3),(8)), the notice queued;
    the servers are ordered deleted once that notice is out (`release_wipe_orders`).

    The caller holds the contract lock; the state is re-checked here, at the moment deletion is asked.
    """
    if contract.state == ContractState.TERMINATED:
        return
    if termination.withdrawn_at is not None or termination.confirmed_by is None:
        raise Conflict(
            f"termination {termination.id} is not confirmed; nothing is deleted", field="termination_id"
        )
    if contract.state not in (*_LIVE, ContractState.TERMINATING):
        raise Conflict(f"contract {contract.id} is {contract.state}; it cannot be terminated", field="state")
    clause = termination.clause
    set_contract_state(
        session,
        contract,
        ContractState.TERMINATING,
        at=at,
        actor=actor,
        clause=clause,
        reason=termination.reason,
    )
    assert contract.state == ContractState.TERMINATING  # deletion is only ever asked for this state
    if termination.wipe_ordered_at is None:
        for server in contract_servers(session, contract.id or 0):  # service ends; data kept until wiped
            if server.desired_state != DesiredState.DELETED:
                set_server_desired(
                    session, server, DesiredState.STOPPED, at=at, actor=actor, clause=clause, action="stop"
                )
    _remove_add_ons(session, contract, at=at)
    if termination.started_at is None:
        termination.started_at = at
        session.add(termination)
        queue_contract_notice(
            session,
            contract,
            kind=NoticeKind.TERMINATION,
            clause=clause,
            subject=f"Contract {contract.id} is terminated",
            body=(
                f"Contract {contract.id} is terminated under {clause}: {termination.reason}\n"
                "Its servers and add-on services are deleted and cannot be restored (Art. 20(8)).\n"
                f"Penalty: {termination.penalty:,} KRW (Art. 32(3)); refund: {termination.refund:,} KRW "
                "(Art. 20(7)).\n"
            ),
            key=termination_notice_key(termination.id or 0),
            at=at,
        )
        session.flush()
    release_wipe_orders(session, contract, termination, at=at, actor=actor)


def termination_notice_key(termination_id: int) -> str:
    return f"termination:{termination_id}:notice"


def release_wipe_orders(
    session: Session, contract: Contract, termination: Termination, *, at: datetime, actor: str
) -> bool:
    """Orders every server of a terminating contract deleted, but only once the termination notice reached
    the mail relay (or exhausted its retries, which pages an operator). True once ordered."""
    if contract.state != ContractState.TERMINATING or termination.started_at is None:
        return False
    if termination.wipe_ordered_at is None:
        out = email_notice_out(session, termination_notice_key(termination.id or 0))
        if out is None:
            return False
        termination.wipe_ordered_at = at
        session.add(termination)
        record_change(
            session,
            at=at,
            actor=actor,
            entity_type="termination",
            entity_id=termination.id or 0,
            action="wipe_ordered",
            clause="Art. 20(8)",
            after={"notice": out},
        )
    for server in contract_servers(session, contract.id or 0):
        set_server_desired(
            session, server, DesiredState.DELETED, at=at, actor=actor, clause="Art. 20(8)", action="delete"
        )
    return True


def _remove_add_ons(session: Session, contract: Contract, *, at: datetime) -> None:
    # Art. 20(3): add-ons, free ones included, end with the contract.
    query = select(AddOn).where(AddOn.contract_id == contract.id, col(AddOn.removed_at).is_(None))
    for add_on in session.exec(query).all():
        add_on.removed_at = at
        add_on.ended_on = add_on.ended_on or seoul_date(at)
        session.add(add_on)
        record_change(
            session,
            at=at,
            actor="system:enforcement",
            entity_type="add_on",
            entity_id=add_on.id or 0,
            action="remove",
            clause="Art. 20(3)",
            after={"name": add_on.name, "fee": add_on.fee},
        )


def complete_termination(session: Session, contract: Contract, *, at: datetime, actor: str) -> bool:
    """Ends the contract once no server is left unwiped; releases the addresses (Art. 20(8), 24(2))."""
    if contract.state != ContractState.TERMINATING:
        return False
    if contract_servers(session, contract.id or 0):
        return False  # a deletion record is still missing
    for server_id in session.exec(select(Server.id).where(Server.contract_id == contract.id)).all():
        release_server_addresses(session, server_id=server_id, at=at)
    termination = session.exec(
        select(Termination).where(
            Termination.contract_id == contract.id, col(Termination.withdrawn_at).is_(None)
        )
    ).first()
    set_contract_state(
        session,
        contract,
        ContractState.TERMINATED,
        at=at,
        actor=actor,
        clause="Art. 20(8)",
        reason="every server deleted and wiped; addresses released",
    )
    if termination is not None and termination.ended_at is None:
        termination.ended_at = at
        session.add(termination)
        # Once only: ended_at is set in this transaction, under the caller's contract lock.
        _credit_refund(session, contract, termination, at=at, actor=actor)
        settle_if_paid(session, termination, at=at, actor=actor)
    return True


def _credit_refund(
    session: Session, contract: Contract, termination: Termination, *, at: datetime, actor: str
) -> None:
    """Art. 20(7): the annual-prepay refund becomes credit once the contract has ended; it offsets the
    next invoices or is paid out on request, arrears first (Art. 35)."""
    if termination.refund <= 0:
        return
    customer = session.get(Customer, contract.customer_id)
    assert customer is not None  # a contract's customer is a foreign key
    session.add(
        CreditEntry(
            customer_id=contract.customer_id,
            amount=termination.refund,
            reason="refund",
            clause=str(ART_20_7),
            at=at,
        )
    )
    queue_notice(
        session,
        customer=customer,
        contract_id=contract.id,
        draft=termination_refund_notice(contract_id=contract.id or 0, amount=termination.refund),
        dedupe_key=f"termination:{termination.id}:refund",
        now=at,
    )
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="termination",
        entity_id=termination.id or 0,
        action="refund_credit",
        clause=str(ART_20_7),
        after={"credited": termination.refund},
    )
    settle_with_credit(session, customer_id=contract.customer_id, now=at, actor=actor)


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
    re-decided it from fresh facts under the contract lock a moment ago); bears the Art. 20(4) penalty."""
    existing = session.exec(select(Termination).where(Termination.contract_id == contract.id)).first()
    if existing is not None and existing.withdrawn_at is None:
        return existing
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
            "proposed_by_token": None,
            "confirmed_by_token": None,
            "withdrawn_at": None,
            "withdrawn_by": None,
            "penalty": 0,
            "refund": 0,
            "started_at": None,
            "wipe_ordered_at": None,
            "ended_at": None,
            "completed_at": None,
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
        after=termination_snapshot(termination),
    )
    return termination


def get_termination(session: Session, termination_id: int) -> Termination:
    termination = session.get(Termination, termination_id)
    if termination is None:
        raise NotFound(f"no termination {termination_id}", field="termination_id")
    return termination


def list_terminations(session: Session, *, pending_only: bool = False) -> list[Termination]:
    query = select(Termination)
    if pending_only:
        query = query.where(col(Termination.confirmed_by).is_(None), col(Termination.withdrawn_at).is_(None))
    return list(session.exec(query.order_by(col(Termination.id))).all())


def _release_after_notice(session: Session, key: str, now: datetime) -> None:
    """The termination notice just left the outbox (`termination:<id>:notice:<channel>`): order the wipe."""
    termination = session.get(Termination, int(key.split(":")[1]))
    if termination is None or termination.started_at is None or termination.wipe_ordered_at is not None:
        return
    contract = lock_contract(session, termination.contract_id)
    release_wipe_orders(session, contract, termination, at=now, actor="system:notice-delivery")


on_notice_settled("termination:", _release_after_notice)
