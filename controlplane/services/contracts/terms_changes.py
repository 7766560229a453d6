"""Terms-version changes (Art. 3(2)-(4)): customers object to or accept an announced version, and every
live contract hears of a newer announced version once.

Silence until a version applies is consent (Art. 3(3)); an objection keeps the pinned version to the end
of the term, after which the contract renews only if the customer accepted the new one (Art. 3(4)).
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.errors import InvalidInput
from controlplane.models.customer import Contract, ContractState, Customer
from controlplane.models.terms_response import TermsResponse
from controlplane.notify.messages import terms_change_notice
from controlplane.policy_registry import (
    UnknownPolicyVersion,
    known_policies,
    policy_for,
    policy_or_not_found,
)
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.notices import queue_notice
from controlplane.terms.calendar import seoul_date
from controlplane.terms.deadlines import objection_window
from controlplane.terms.policy import Policy

log = logging.getLogger(__name__)

_LIVE = (ContractState.APPROVED.value, ContractState.ACTIVE.value, ContractState.RESTRICTED.value)


def _response(session: Session, contract_id: int, version: str) -> TermsResponse:
    query = select(TermsResponse).where(
        TermsResponse.contract_id == contract_id, TermsResponse.version == version
    )
    return session.exec(query).first() or TermsResponse(contract_id=contract_id, version=version)


def object_to_version(
    session: Session, *, contract_id: int, version: str, now: datetime, actor: str
) -> TermsResponse:
    """Art. 3(3): an objection counts through the 7th day counting the effective date itself (E … E+6);
    it withdraws an acceptance."""
    contract = lock_contract(session, contract_id)
    policy = policy_or_not_found(version)
    window = objection_window(policy.effective_from, policy=policy)
    if not window.is_met_by(seoul_date(now)):
        raise InvalidInput(
            f"terms {version} apply since {policy.effective_from.isoformat()}; objections "
            f"were open through {window.on.isoformat()} ({window.clause}); silence since is "
            "consent",
            field="version",
        )
    response = _response(session, contract.id or 0, version)
    response.objected_at, response.accepted_at = now, None
    _save(session, response, action="terms_objection", clause="Art. 3(3)", now=now, actor=actor)
    session.commit()
    return response


def accept_version(
    session: Session, *, contract_id: int, version: str, now: datetime, actor: str
) -> TermsResponse:
    """Art. 3(4): an objector accepts the new version (any time) so the contract may renew onto it."""
    contract = lock_contract(session, contract_id)
    policy_or_not_found(version)
    response = _response(session, contract.id or 0, version)
    response.accepted_at = now
    _save(session, response, action="terms_acceptance", clause="Art. 3(4)", now=now, actor=actor)
    session.commit()
    return response


def _save(
    session: Session, response: TermsResponse, *, action: str, clause: str, now: datetime, actor: str
) -> None:
    session.add(response)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=response.contract_id,
        action=action,
        clause=clause,
        after={"version": response.version},
    )


def unaccepted_objection(session: Session, contract_id: int, pinned: Policy, renewal_day: date) -> str | None:
    """A version newer than `pinned`, in force on `renewal_day`, that the customer objected to and has
    not accepted since (Art. 3(4)); None when the contract may renew."""
    query = select(TermsResponse).where(
        TermsResponse.contract_id == contract_id,
        col(TermsResponse.objected_at).is_not(None),
        col(TermsResponse.accepted_at).is_(None),
    )
    for response in session.exec(query.order_by(col(TermsResponse.id))).all():
        try:
            objected = policy_for(response.version)
        except UnknownPolicyVersion:
            continue  # a version since withdrawn from the deployment binds nobody
        if pinned.effective_from < objected.effective_from <= renewal_day:
            return objected.version
    return None


def announce_terms_changes(engine: Engine, *, as_of: date, now: datetime) -> int:
    """Queues, once per (contract, version), the notice of every announced version newer than the
    contract's pin (Art. 3(2),(3)); returns how many (contract, version) notices were due, those
    queued on an earlier run included (their dedupe key skips them)."""
    announced = [p for p in known_policies() if p.announced_on is not None and p.announced_on <= as_of]
    if not announced:
        return 0
    queued = 0
    with session_scope(engine) as session:
        query = (
            select(Contract, Customer)
            .join(Customer, col(Customer.id) == col(Contract.customer_id))
            .where(col(Contract.state).in_(_LIVE))
            .order_by(col(Contract.id))
        )
        for contract, customer in session.exec(query).all():
            queued += _announce_to(session, contract, customer, announced, now)
    return queued


def _announce_to(
    session: Session, contract: Contract, customer: Customer, announced: list[Policy], now: datetime
) -> int:
    try:
        pinned = policy_for(contract.terms_version)
    except UnknownPolicyVersion as exc:
        log.error("terms announcement to contract %s skipped: %s", contract.id, exc.message)
        return 0
    count = 0
    for version in announced:
        if version.effective_from <= pinned.effective_from:
            continue
        draft = terms_change_notice(
            contract_id=contract.id or 0,
            version=version.version,
            effective_from=version.effective_from,
            unfavourable=version.unfavourable,
            current_version=pinned.version,
        )
        queue_notice(
            session,
            customer=customer,
            contract_id=contract.id,
            draft=draft,
            dedupe_key=f"terms-change:{contract.id}:{version.version}",
            now=now,
        )
        count += 1
    return count
