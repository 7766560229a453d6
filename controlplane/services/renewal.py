"""Automatic renewal (Art. 18): at the end of its term a contract renews for the same term on the same
conditions, unless the customer asked to terminate. A daily job; a missed day renews on the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.models.customer import Contract, ContractState
from controlplane.models.enforcement import Termination
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement_effects import contract_snapshot
from controlplane.services.policies import UnknownPolicyVersion, policy_for
from controlplane.terms.renewal import Term, decide_renewal

log = logging.getLogger(__name__)

_RENEWABLE = (ContractState.ACTIVE.value, ContractState.RESTRICTED.value)


@dataclass
class RenewalReport:
    renewed: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # pinned to an unknown terms version: left as is


def due_for_renewal(session: Session, as_of: date) -> list[int]:
    """Contracts in service whose term ended before `as_of` (one query)."""
    query = (select(Contract.id)
             .where(col(Contract.state).in_(_RENEWABLE), col(Contract.term_end).is_not(None),
                    col(Contract.term_end) < as_of)
             .order_by(col(Contract.id)))
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


def _record_failure(engine: Engine, contract_id: int, exc: UnknownPolicyVersion, *, now: datetime,
                    actor: str) -> None:
    # Renewing "for the same term" needs the pinned version's term length; never assume another's.
    log.error("renewal of contract %s failed: %s", contract_id, exc.message)
    with session_scope(engine) as session:
        record_change(session, at=now, actor=actor, entity_type="contract", entity_id=contract_id,
                      action="renew_failed", clause="Art. 18", after={"why": exc.message})


def renew_contract(session: Session, contract_id: int, *, as_of: date, now: datetime, actor: str) -> bool:
    """Renews term after term until the current one covers `as_of`; False when it must not renew."""
    contract = lock_contract(session, contract_id)
    if contract.state not in _RENEWABLE or contract.term_start is None or contract.term_end is None:
        return False
    requested = session.exec(select(Termination.id).where(Termination.contract_id == contract_id)).first()
    before = contract_snapshot(contract)
    months = 12 * policy_for(contract.terms_version).base_term_years
    term = Term(contract.term_start, contract.term_end, months)
    while term.last < as_of:
        decision = decide_renewal(term, contract.terms_version, termination_requested=requested is not None)
        if not decision.renews or decision.next_term is None:
            return False
        term = decision.next_term
        contract.terms_version = decision.terms_version or contract.terms_version
        clause = str(decision.clause)
    contract.term_start, contract.term_end, contract.updated_at = term.first, term.last, now
    session.add(contract)
    record_change(session, at=now, actor=actor, entity_type="contract", entity_id=contract_id, action="renew",
                  clause=clause, before=before, after=contract_snapshot(contract))
    return True
