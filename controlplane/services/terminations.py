"""Terminations (Art. 20, 21): decided, started (contract `terminating`, servers to be deleted and wiped,
add-ons removed), completed only once every server's deletion record is in (addresses released, contract
`terminated`). Irreversible, so the destructive step re-checks the contract state under its lock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controlplane.api.schemas.enforcement import TerminationCreate
from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.billing import AddOn, CreditEntry, Invoice, InvoiceLine
from controlplane.models.customer import BillingCycle, Contract, ContractState, Customer
from controlplane.models.enforcement import Termination
from controlplane.models.server import DesiredState
from controlplane.notify.messages import termination_refund_notice
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement_effects import (
    contract_servers,
    queue_contract_notice,
    set_contract_state,
    set_server_desired,
)
from controlplane.services.invoice_facts import PREPAYMENT_KIND
from controlplane.services.notices import queue_notice
from controlplane.services.policies import pinned_policy
from controlplane.terms.calendar import YearMonth, seoul_date
from controlplane.terms.clauses import ART_20_7
from controlplane.terms.money import floor_won
from controlplane.terms.penalty import early_termination_penalty
from controlplane.terms.policy import Policy
from controlplane.terms.refund import annual_prepay_refund

_CLAUSES = {"customer_request": "Art. 20(2)", "ex_officio": "Art. 21(1)", "insolvency": "Art. 20(5)",
            "nonpayment": "Art. 21(1)", "cure_failed": "Art. 21(4)"}
_LIVE = (ContractState.ACTIVE, ContractState.RESTRICTED)


def termination_snapshot(t: Termination) -> dict[str, object]:
    return {"kind": t.kind, "clause": t.clause, "effective_on": str(t.effective_on), "penalty": t.penalty,
            "refund": t.refund, "confirmed_by": t.confirmed_by,
            "started_at": t.started_at.isoformat() if t.started_at else None,
            "completed_at": t.completed_at.isoformat() if t.completed_at else None}


def request_termination(session: Session, *, contract_id: int, request: TerminationCreate, now: datetime,
                        actor: str, policy: Policy | None = None) -> Termination:
    """A customer's request (>= 7 days notice, settled per Art. 32(3), 20(7)), ex officio, or insolvency
    (Art. 20(5), immediate). Ex officio and insolvency start at once; a request on its day.
    Notice days and penalty are the contract's pinned version's (`policy` overrides it)."""
    contract = lock_contract(session, contract_id)
    if contract.state not in _LIVE:
        raise Conflict(f"contract {contract_id} is {contract.state}; it cannot be terminated now",
                       field="state")
    policy = policy or pinned_policy(contract.terms_version)
    today = seoul_date(now)
    effective_on = _effective_on(request, today, policy)
    penalty, refund = (_settlement(session, contract, effective_on, request.refused_fee_increase, policy)
                       if request.kind == "customer_request" else (0, 0))
    termination = Termination(
        contract_id=contract_id, kind=request.kind, clause=request.clause or _CLAUSES[request.kind],
        reason=request.reason, requested_at=now, effective_on=effective_on,
        refused_fee_increase=request.refused_fee_increase, penalty=penalty, refund=refund,
        decided_by=actor, confirmed_by=actor)
    _insert(session, termination)
    record_change(session, at=now, actor=actor, entity_type="termination", entity_id=termination.id or 0,
                  action=f"decide:{request.kind}", clause=termination.clause,
                  after=termination_snapshot(termination))
    if request.kind != "customer_request":
        start_termination(session, contract, termination, at=now, actor=actor)
    session.commit()
    return termination


def _effective_on(request: TerminationCreate, today: date, policy: Policy) -> date:
    if request.kind != "customer_request":
        return today
    if request.effective_on is None:
        raise InvalidInput("a customer's termination names the requested day", field="effective_on")
    earliest = today + timedelta(days=policy.termination_notice_days)
    if request.effective_on < earliest:
        raise InvalidInput(f"Art. 20(2) needs {policy.termination_notice_days} days notice: the earliest "
                           f"day is {earliest.isoformat()}", field="effective_on")
    return request.effective_on


def _settlement(session: Session, contract: Contract, last_day: date, refused_fee_increase: bool,
                policy: Policy) -> tuple[int, int]:
    """Penalty (Art. 32(3), none after a refused fee increase, 17(3)) and annual-prepay refund (20(7))."""
    if contract.term_end is None or last_day >= contract.term_end:
        return 0, 0
    fees = _recent_plan_fees(session, contract, YearMonth.of(last_day), policy)
    penalty = early_termination_penalty(fees, last_day, contract.term_end,
                                        refused_fee_increase=refused_fee_increase, policy=policy).amount
    if contract.billing_cycle != BillingCycle.ANNUAL_PREPAID or contract.term_start is None:
        return penalty, 0
    prepaid = _prepaid_for_term(session, contract)
    if prepaid == 0:  # nothing prepaid for this term: no refund; what is owed stays owed (Art. 20(2))
        return penalty, 0
    refund = annual_prepay_refund(prepaid, contract.annual_prepay_discount, contract.term_start,
                                  last_day, penalty).amount
    return penalty, refund


def _prepaid_for_term(session: Session, contract: Contract, paid_by: datetime | None = None) -> int:
    """Art. 20(7): what was really prepaid for the current term: its prepayment line (Art. 30(2)-3), once
    the invoice carrying it is paid in full; billed but unpaid is arrears, not a prepayment. `paid_by`
    replays the decision: only what was paid when the refund was computed counts."""
    query = (select(InvoiceLine.amount)
             .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
             .where(Invoice.contract_id == contract.id, InvoiceLine.kind == PREPAYMENT_KIND,
                    InvoiceLine.period_from == contract.term_start,
                    col(Invoice.paid_in_full_at).is_not(None)))
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
    unused = annual_prepay_refund(prepaid, contract.annual_prepay_discount, contract.term_start,
                                  termination.effective_on)
    covered = max(Fraction(0), prepaid - unused.fee_for_period_used - contract.annual_prepay_discount)
    return max(0, floor_won(termination.penalty - covered))


def _recent_plan_fees(session: Session, contract: Contract, month: YearMonth, policy: Policy) -> list[int]:
    """Plan fees billed for the months before the termination month, oldest first, net of discount."""
    query = (select(col(Invoice.month), col(InvoiceLine.amount))
             .join(InvoiceLine, col(InvoiceLine.invoice_id) == col(Invoice.id))
             .where(Invoice.contract_id == contract.id, col(Invoice.month) < month.first_day,
                    InvoiceLine.kind == "plan").order_by(col(Invoice.month)))
    by_month: dict[date, int] = {}
    for invoice_month, amount in session.execute(query):
        by_month[invoice_month] = by_month.get(invoice_month, 0) + int(amount)
    fees = [by_month[m] for m in sorted(by_month)][-policy.penalty_fee_history_months:]
    return fees or [max(0, contract.monthly_fee - contract.discount)]


def _insert(session: Session, termination: Termination) -> None:
    session.add(termination)
    try:
        session.flush()
    except IntegrityError as exc:  # one termination per contract, by the database
        session.rollback()
        raise Conflict(f"contract {termination.contract_id} already has a termination",
                       field="contract_id") from exc


def record_eligible(session: Session, contract: Contract, *, kind: str, clause: str, reason: str,
                    effective_on: date, at: datetime, actor: str) -> Termination | None:
    """Lists a contract as eligible for termination; an operator must confirm (Art. 21(4))."""
    existing = session.exec(select(Termination).where(Termination.contract_id == contract.id)).first()
    if existing is not None:
        return None
    termination = Termination(contract_id=contract.id or 0, kind=kind, clause=clause, reason=reason[:400],
                              requested_at=at, effective_on=effective_on, decided_by=actor)
    session.add(termination)
    session.flush()
    record_change(session, at=at, actor=actor, entity_type="termination", entity_id=termination.id or 0,
                  action=f"eligible:{kind}", clause=clause, after=termination_snapshot(termination))
    return termination


def confirm_termination(session: Session, *, termination_id: int, now: datetime, actor: str) -> Termination:
    """Art. 21(4): an operator confirms a listed termination; it starts at once."""
    termination = get_termination(session, termination_id)
    contract = lock_contract(session, termination.contract_id)
    session.refresh(termination)
    if termination.confirmed_by is None:
        before = termination_snapshot(termination)
        termination.confirmed_by = actor
        session.add(termination)
        record_change(session, at=now, actor=actor, entity_type="termination", entity_id=termination_id,
                      action="confirm", clause=termination.clause, before=before,
                      after=termination_snapshot(termination))
    start_termination(session, contract, termination, at=now, actor=actor)
    session.commit()
    return termination


def start_termination(session: Session, contract: Contract, termination: Termination, *, at: datetime,
                      actor: str) -> None:
    """Contract `terminating`, every server to be deleted and wiped, add-ons removed (Art. 20(3),(8)).

    The caller holds the contract lock; the state is re-checked here, at the moment deletion is asked.
    """
    if contract.state == ContractState.TERMINATED:
        return
    if contract.state not in (*_LIVE, ContractState.TERMINATING):
        raise Conflict(f"contract {contract.id} is {contract.state}; it cannot be terminated", field="state")
    clause = termination.clause
    set_contract_state(session, contract, ContractState.TERMINATING, at=at, actor=actor, clause=clause,
                       reason=termination.reason)
    assert contract.state == ContractState.TERMINATING  # deletion is only ever asked for this state
    for server in contract_servers(session, contract.id or 0):
        set_server_desired(session, server, DesiredState.DELETED, at=at, actor=actor, clause="Art. 20(8)",
                           action="delete")
    _remove_add_ons(session, contract, at=at)
    if termination.started_at is None:
        termination.started_at = at
        session.add(termination)
        queue_contract_notice(
            session, contract, kind="termination", clause=clause,
            subject=f"Contract {contract.id} is terminated",
            body=(f"Contract {contract.id} is terminated under {clause}: {termination.reason}\n"
                  "Its servers and add-on services are deleted and cannot be restored (Art. 20(8)).\n"
                  f"Penalty: {termination.penalty:,} KRW (Art. 32(3)); refund: {termination.refund:,} KRW "
                  "(Art. 20(7)).\n"),
            key=f"termination:{termination.id}:notice", at=at)


def _remove_add_ons(session: Session, contract: Contract, *, at: datetime) -> None:
    # Art. 20(3): add-ons, free ones included, end with the contract.
    query = select(AddOn).where(AddOn.contract_id == contract.id, col(AddOn.removed_at).is_(None))
    for add_on in session.exec(query).all():
        add_on.removed_at = at
        add_on.ended_on = add_on.ended_on or seoul_date(at)
        session.add(add_on)
        record_change(session, at=at, actor="system:enforcement", entity_type="add_on",
                      entity_id=add_on.id or 0, action="remove", clause="Art. 20(3)",
                      after={"name": add_on.name, "fee": add_on.fee})


def complete_termination(session: Session, contract: Contract, *, at: datetime, actor: str) -> bool:
    """Ends the contract once no server is left unwiped; releases the addresses (Art. 20(8), 24(2))."""
    if contract.state != ContractState.TERMINATING:
        return False
    if contract_servers(session, contract.id or 0):
        return False  # a deletion record is still missing
    from controlplane.models.server import Server
    from network.service import release_server_addresses

    for server_id in session.exec(select(Server.id).where(Server.contract_id == contract.id)).all():
        release_server_addresses(session, server_id=server_id, at=at)
    termination = session.exec(select(Termination).where(Termination.contract_id == contract.id)).first()
    if termination is not None and termination.completed_at is None:
        termination.completed_at = at
        session.add(termination)
        # Once only: completed_at is set in this transaction, under the caller's contract lock.
        _credit_refund(session, contract, termination, at=at, actor=actor)
    set_contract_state(session, contract, ContractState.TERMINATED, at=at, actor=actor, clause="Art. 20(8)",
                       reason="every server deleted and wiped; addresses released")
    return True


def _credit_refund(session: Session, contract: Contract, termination: Termination, *, at: datetime,
                   actor: str) -> None:
    """Art. 20(7): the annual-prepay refund becomes credit once the contract has ended; it offsets the
    next invoices or is paid out on request, arrears first (Art. 35)."""
    if termination.refund <= 0:
        return
    customer = session.get(Customer, contract.customer_id)
    assert customer is not None  # a contract's customer is a foreign key
    session.add(CreditEntry(customer_id=contract.customer_id, amount=termination.refund, reason="refund",
                            clause=str(ART_20_7), at=at))
    queue_notice(session, customer=customer, contract_id=contract.id,
                 draft=termination_refund_notice(contract_id=contract.id or 0, amount=termination.refund),
                 dedupe_key=f"termination:{termination.id}:refund", now=at)
    record_change(session, at=at, actor=actor, entity_type="termination", entity_id=termination.id or 0,
                  action="refund_credit", clause=str(ART_20_7), after={"credited": termination.refund})


def get_termination(session: Session, termination_id: int) -> Termination:
    termination = session.get(Termination, termination_id)
    if termination is None:
        raise NotFound(f"no termination {termination_id}", field="termination_id")
    return termination


def list_terminations(session: Session, *, pending_only: bool = False) -> list[Termination]:
    query = select(Termination)
    if pending_only:
        query = query.where(col(Termination.confirmed_by).is_(None))
    return list(session.exec(query.order_by(col(Termination.id))).all())
