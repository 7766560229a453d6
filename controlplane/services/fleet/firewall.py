"""The firewall add-on (Art. 22(3) 2.2): one rule set per contract, applied by the agents as an nwfilter
on every server of the contract, billed as a monthly add-on (Art. 30), removed at termination (Art. 20(8)).

A change bumps the generation of every server of the contract so each agent applies it at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, delete, select

from controlplane.errors import Conflict, NotFound
from controlplane.models.billing import AddOn
from controlplane.models.customer import Contract, ContractState
from controlplane.models.workflows import FirewallRule, FirewallRuleSet
from controlplane.schemas.firewall import FirewallPublic, FirewallPut, FirewallRuleIn
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.fleet.generations import bump_server_generation, contract_servers
from controlplane.services.fleet.traffic import firewall_filter_name
from controlplane.terms.calendar import seoul_date

CLAUSE = "Art. 22(3)"
ADD_ON_NAME = "firewall"
_IN_SERVICE = (ContractState.APPROVED, ContractState.ACTIVE, ContractState.RESTRICTED)


def put_firewall(
    session: Session, *, contract_id: int, request: FirewallPut, now: datetime, actor: str
) -> FirewallPublic:
    contract = lock_contract(session, contract_id)
    if contract.state not in _IN_SERVICE:
        raise Conflict(f"contract {contract_id} is {contract.state}: no firewall can be set", field="state")
    rule_set = _rule_set(session, contract_id)
    before = _snapshot(session, rule_set) if rule_set is not None else None
    if rule_set is not None and rule_set.removed_at is not None:
        raise Conflict(f"contract {contract_id}'s firewall was removed at its end", field="state")
    if rule_set is None:
        rule_set = FirewallRuleSet(
            contract_id=contract_id,
            add_on_id=_start_add_on(session, contract, request, now),
            inbound_default=request.inbound_default,
            outbound_default=request.outbound_default,
            created_at=now,
            updated_at=now,
        )
    else:
        rule_set.inbound_default, rule_set.outbound_default = (
            request.inbound_default,
            request.outbound_default,
        )
        rule_set.revision += 1
        rule_set.updated_at = now
        session.execute(delete(FirewallRule).where(col(FirewallRule.rule_set_id) == rule_set.id))
    session.add(rule_set)
    session.flush()
    for position, rule in enumerate(request.rules):
        session.add(FirewallRule(rule_set_id=rule_set.id or 0, position=position, **rule.model_dump()))
    session.flush()
    after = _snapshot(session, rule_set)
    _record(session, rule_set, now=now, actor=actor, action="firewall_set", before=before, after=after)
    _apply_to_servers(session, contract, now=now, actor=actor, action="firewall_set")
    session.commit()
    return after


def remove_firewall(session: Session, contract: Contract, *, at: datetime, actor: str, clause: str) -> bool:
    """Ends the rule set and its add-on (the caller commits); the agents drop the filter. False: none."""
    rule_set = _rule_set(session, contract.id or 0)
    if rule_set is None or rule_set.removed_at is not None:
        return False
    before = _snapshot(session, rule_set)
    rule_set.removed_at = at
    session.add(rule_set)
    add_on = session.get(AddOn, rule_set.add_on_id) if rule_set.add_on_id else None
    if add_on is not None and add_on.removed_at is None:
        add_on.removed_at, add_on.ended_on = at, add_on.ended_on or seoul_date(at)
        session.add(add_on)
    session.flush()
    _record(
        session,
        rule_set,
        now=at,
        actor=actor,
        action="firewall_remove",
        before=before,
        after=_snapshot(session, rule_set),
        clause=clause,
    )
    _apply_to_servers(session, contract, now=at, actor=actor, action="firewall_remove", clause=clause)
    return True


def remove_firewall_by_request(
    session: Session, *, contract_id: int, now: datetime, actor: str
) -> FirewallPublic:
    contract = lock_contract(session, contract_id)
    if not remove_firewall(session, contract, at=now, actor=actor, clause=CLAUSE):
        raise NotFound(f"contract {contract_id} has no firewall", field="contract_id")
    session.commit()
    return get_firewall(session, contract_id=contract_id)


def get_firewall(session: Session, *, contract_id: int) -> FirewallPublic:
    rule_set = _rule_set(session, contract_id)
    if rule_set is None:
        raise NotFound(f"contract {contract_id} has no firewall", field="contract_id")
    return _snapshot(session, rule_set)


def _start_add_on(session: Session, contract: Contract, request: FirewallPut, now: datetime) -> int:
    started = request.started_on or seoul_date(now)
    add_on = AddOn(
        contract_id=contract.id or 0,
        name=ADD_ON_NAME,
        billing="monthly",
        fee=request.monthly_fee,
        started_on=started,
    )
    session.add(add_on)
    session.flush()
    return add_on.id or 0


def _apply_to_servers(
    session: Session, contract: Contract, *, now: datetime, actor: str, action: str, clause: str = CLAUSE
) -> None:
    for server in contract_servers(session, contract.id or 0):
        bump_server_generation(session, server, at=now, actor=actor, clause=clause, action=action)


def _rule_set(session: Session, contract_id: int) -> FirewallRuleSet | None:
    return session.exec(select(FirewallRuleSet).where(FirewallRuleSet.contract_id == contract_id)).first()


def _snapshot(session: Session, rule_set: FirewallRuleSet) -> FirewallPublic:
    rules = session.exec(
        select(FirewallRule)
        .where(FirewallRule.rule_set_id == rule_set.id)
        .order_by(col(FirewallRule.position))
    ).all()
    return FirewallPublic(
        id=rule_set.id or 0,
        contract_id=rule_set.contract_id,
        add_on_id=rule_set.add_on_id,
        inbound_default=rule_set.inbound_default,
        outbound_default=rule_set.outbound_default,
        revision=rule_set.revision,
        rules=[FirewallRuleIn.model_validate(r, from_attributes=True) for r in rules],
        filter_name=firewall_filter_name(rule_set.contract_id),
        created_at=rule_set.created_at,
        updated_at=rule_set.updated_at,
        removed_at=rule_set.removed_at,
    )


def _record(
    session: Session,
    rule_set: FirewallRuleSet,
    *,
    now: datetime,
    actor: str,
    action: str,
    before: FirewallPublic | None,
    after: FirewallPublic,
    clause: str = CLAUSE,
) -> None:
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="firewall",
        entity_id=rule_set.id or 0,
        action=action,
        clause=clause,
        before=before.model_dump(mode="json") if before else None,
        after=after.model_dump(mode="json"),
    )
