"""Automatic renewal (Art. 18): at the end of its term a contract renews for the same term on the same
conditions, unless the customer asked to terminate, onto the terms version then in force (Art. 3(3),(4)).
A daily job; a missed day renews on the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.models.customer import Contract, ContractState, Customer
from controlplane.models.enforcement import Termination
from controlplane.notify.messages import terms_version_renewal_notice
from controlplane.policy_registry import UnknownPolicyVersion, current_policy, policy_for
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.contracts.terms_changes import unaccepted_objection
from controlplane.services.enforcement.effects import contract_snapshot
from controlplane.services.enforcement.termination_effects import start_termination
from controlplane.services.enforcement.terminations import termination_snapshot
from controlplane.services.notices import queue_notice
from controlplane.terms.clauses import ART_3_3, ART_3_4
from controlplane.terms.lifecycle import TerminationKind
from controlplane.terms.renewal import RenewalDecision, Term, decide_renewal, next_term

log = logging.getLogger(__name__)

_RENEWABLE = (ContractState.ACTIVE.value, ContractState.RESTRICTED.value)


@dataclass
class RenewalReport:
    renewed: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # pinned to an unknown terms version: left as is


def due_for_renewal(session: Session, as_of: date) -> list[int]:
    """Contracts in service whose term ended before `as_of` (one query)."""
    query = (
        select(Contract.id)
        .where(
            col(Contract.state).in_(_RENEWABLE),
            col(Contract.term_end).is_not(None),
            col(Contract.term_end) < as_of,
        )
        .order_by(col(Contract.id))
    )
    return [int(cid) for cid in session.exec(query).all() if cid is not None]


def renew_contracts(
    engine: Engine, *, as_of: date, now: datetime, actor: str = "system:renewal"
) -> RenewalReport:
    """Renews every contract due on `as_of`, each under its own contract lock; idempotent."""
    report = RenewalReport()
    with session_scope(engine) as session:
        ids = due_for_renewal(session, as_of)
    for contract_id in ids:
        try:
            with session_scope(engine) as session:
                renewed = renew_contract(session, contract_id, as_of=as_of, now=now, actor=actor)
        except UnknownPolicyVersion as exc:
            _record_failure(engine, contract_id, exc, now=now, actor=actor)
            report.failed.append(contract_id)
            continue
        (report.renewed if renewed else report.ended).append(contract_id)
    return report


def _record_failure(
    engine: Engine, contract_id: int, exc: UnknownPolicyVersion, *, now: datetime, actor: str
) -> None:
    # Renewing "for the same term" needs the pinned version's term length; never assume another's.
    log.error("renewal of contract %s failed: %s", contract_id, exc.message)
    with session_scope(engine) as session:
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="contract",
            entity_id=contract_id,
            action="renew_failed",
            clause="Art. 18",
            after={"why": exc.message},
        )


def renew_contract(session: Session, contract_id: int, *, as_of: date, now: datetime, actor: str) -> bool:
    """Renews term after term until the current one covers `as_of`; False when it must not renew.

    Each renewed term moves onto the terms version in force on its first day (Art. 3(3): silence is
    consent), unless the customer objected to a newer version and never accepted it: then the contract
    ends with its term (Art. 3(4)).
    """
    contract = lock_contract(session, contract_id)
    if contract.state not in _RENEWABLE or contract.term_start is None or contract.term_end is None:
        return False
    requested = session.exec(
        select(Termination.id).where(
            Termination.contract_id == contract_id, col(Termination.withdrawn_at).is_(None)
        )
    ).first()
    before, old_version = contract_snapshot(contract), contract.terms_version
    months = 12 * policy_for(contract.terms_version).base_term_years
    term, version, clause = Term(contract.term_start, contract.term_end, months), old_version, ""
    decision = None
    while term.last < as_of:
        decision = _decide(session, contract_id, term, version, requested is not None)
        if not decision.renews or decision.next_term is None:
            break
        term, version, clause = decision.next_term, decision.terms_version or version, str(decision.clause)
    if clause:  # renewed at least once: the terms renewed so far stand even if a later one ends
        contract.term_start, contract.term_end, contract.updated_at = term.first, term.last, now
        contract.terms_version = version
        session.add(contract)
        record_change(
            session,
            at=now,
            actor=actor,
            entity_type="contract",
            entity_id=contract_id,
            action="renew",
            clause=clause,
            before=before,
            after=contract_snapshot(contract),
        )
        if version != old_version:
            _record_version_change(session, contract, old_version, term.first, now=now, actor=actor)
    if decision is not None and not decision.renews:
        if decision.clause == ART_3_4 and requested is None:
            _end_for_terms_not_accepted(session, contract, term, decision, now=now, actor=actor)
        return False
    return bool(clause)


def _decide(session: Session, contract_id: int, term: Term, version: str, requested: bool) -> RenewalDecision:
    """Art. 18 and 3(4) for one term end: the version in force on the next term's first day, and
    whether the customer refused a newer one."""
    pinned = policy_for(version)
    first_day = next_term(term).first
    latest = current_policy(first_day)
    if latest.effective_from < pinned.effective_from:
        latest = pinned  # never renew backwards onto an older version
    refused = unaccepted_objection(session, contract_id, pinned, first_day)
    return decide_renewal(
        term,
        version,
        termination_requested=requested,
        latest_version=latest.version,
        objected_to_latest=refused is not None,
    )


def _record_version_change(
    session: Session, contract: Contract, old_version: str, term_start: date, *, now: datetime, actor: str
) -> None:
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=contract.id or 0,
        action="terms_version",
        clause=str(ART_3_3),
        before={"terms_version": old_version},
        after={"terms_version": contract.terms_version},
    )
    customer = session.get(Customer, contract.customer_id)
    if customer is None:
        return
    draft = terms_version_renewal_notice(
        contract_id=contract.id or 0,
        old_version=old_version,
        new_version=contract.terms_version,
        term_start=term_start,
    )
    queue_notice(
        session,
        customer=customer,
        contract_id=contract.id,
        draft=draft,
        dedupe_key=f"renewal:{contract.id}:{term_start.isoformat()}:terms-version",
        now=now,
    )


def _end_for_terms_not_accepted(
    session: Session, contract: Contract, term: Term, decision: RenewalDecision, *, now: datetime, actor: str
) -> None:
    """Art. 3(4): the objector did not accept the new terms, so the contract ends with its term; decided
    by the terms themselves and started at once, like an automatic nonpayment termination."""
    termination = Termination(
        contract_id=contract.id or 0,
        kind=TerminationKind.TERMS_NOT_ACCEPTED,
        clause=str(ART_3_4),
        reason=decision.reason[:400],
        requested_at=now,
        effective_on=term.last,
        decided_by=actor,
        confirmed_by=f"terms:Art. 3(4) ({actor})",
    )
    session.add(termination)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="termination",
        entity_id=termination.id or 0,
        action="decide:terms_not_accepted",
        clause=termination.clause,
        after=termination_snapshot(termination),
    )
    start_termination(session, contract, termination, at=now, actor=actor)
