"""What a restriction, a lift or a termination does to a contract and its servers, inside the caller's
transaction: contract state, servers' desired state (compare-and-swap on `generation`, audited with the
clause), and the customer's notice in the outbox. Nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from controlplane.errors import Conflict
from controlplane.models.customer import Contract, ContractState, Customer
from controlplane.models.enforcement import Block
from controlplane.models.server import DesiredState, Server
from controlplane.notify.messages import NoticeDraft
from controlplane.services.audit import record_change

# Moved to the fleet family (the firewall add-on needs them too); re-exported for enforcement's callers.
from controlplane.services.fleet.generations import bump_server_generation as bump_server_generation
from controlplane.services.fleet.generations import contract_servers as contract_servers
from controlplane.services.fleet.servers import server_snapshot
from controlplane.services.notices import queue_notice
from controlplane.terms.errors import IllegalTransition
from controlplane.terms.lifecycle import Event, transition

_EVENTS = {
    ContractState.RESTRICTED: Event.RESTRICT,
    ContractState.ACTIVE: Event.LIFT,
    ContractState.TERMINATING: Event.TERMINATE,
    ContractState.TERMINATED: Event.COMPLETE_TERMINATION,
}
# Contract states in which blocks decide between `active` and `restricted`.
_IN_SERVICE = frozenset({ContractState.ACTIVE, ContractState.RESTRICTED})


def contract_snapshot(contract: Contract) -> dict[str, object]:
    return {
        "state": contract.state,
        "state_reason": contract.state_reason,
        "term_start": str(contract.term_start),
        "term_end": str(contract.term_end),
    }


def set_contract_state(
    session: Session,
    contract: Contract,
    state: ContractState,
    *,
    at: datetime,
    actor: str,
    clause: str,
    reason: str,
) -> bool:
    """Moves the contract to `state` through the terms' life cycle (audited); False if already there."""
    if contract.state == state:
        return False
    try:
        transition(contract.state, _EVENTS[state])
    except IllegalTransition as exc:
        raise Conflict(exc.message, field="state") from exc
    before = contract_snapshot(contract)
    contract.state = state
    contract.state_reason = reason[:400]
    contract.updated_at = at
    session.add(contract)
    session.flush()
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="contract",
        entity_id=contract.id or 0,
        action=f"state:{state.value}",
        clause=clause,
        before=before,
        after=contract_snapshot(contract),
    )
    return True


def set_server_desired(
    session: Session,
    server: Server,
    target: DesiredState,
    *,
    at: datetime,
    actor: str,
    clause: str,
    action: str,
) -> bool:
    """Sets the desired state with the same compare-and-swap as the servers service, audited.

    The contract row is locked by the caller, but an operator may still act on the server itself;
    a lost swap aborts the caller's transaction rather than overwrite a change we did not see.
    """
    if server.desired_state == target:
        return False
    before = server_snapshot(server)
    result = session.execute(
        update(Server)
        .where(col(Server.id) == server.id, col(Server.generation) == server.generation)
        .values(desired_state=target.value, generation=server.generation + 1, updated_at=at)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"server {server.id} changed concurrently; the enforcement action will be retried")
    session.refresh(server)
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="server",
        entity_id=server.id,
        action=action,
        clause=clause,
        before=before,
        after=server_snapshot(server),
    )
    return True


def active_blocks(session: Session, contract_id: int, at: datetime) -> list[Block]:
    """Blocks in force at `at`: started and not lifted."""
    query = (
        select(Block)
        .where(Block.contract_id == contract_id, col(Block.lifted_at).is_(None), col(Block.started_at) <= at)
        .order_by(col(Block.id))
    )
    return list(session.exec(query).all())


def converge_contract(
    session: Session,
    contract: Contract,
    *,
    at: datetime,
    actor: str,
    clause: str,
    reason: str,
    resume: bool = False,
) -> None:
    """Brings contract state and servers in line with the blocks in force at `at`.

    A full block suspends every running server and marks it as suspended by the restriction.
    Servers are resumed only when `resume` is asked (a full block was just lifted), no full block
    remains, and the restriction was what suspended them: a server the customer suspended itself
    is not ours to resume.
    """
    if contract.state not in _IN_SERVICE or contract.id is None:
        return
    blocks = active_blocks(session, contract.id, at)
    full = any(b.scope == "full" for b in blocks)
    target = ContractState.RESTRICTED if blocks else ContractState.ACTIVE
    set_contract_state(session, contract, target, at=at, actor=actor, clause=clause, reason=reason)
    for server in contract_servers(session, contract.id):
        if full and server.desired_state == DesiredState.RUNNING:
            set_server_desired(
                session, server, DesiredState.SUSPENDED, at=at, actor=actor, clause=clause, action="suspend"
            )
            _mark_suspended_by_restriction(session, server, True)
        elif (
            resume
            and not full
            and server.desired_state == DesiredState.SUSPENDED
            and server.suspended_by_restriction
        ):
            set_server_desired(
                session, server, DesiredState.RUNNING, at=at, actor=actor, clause=clause, action="resume"
            )
            _mark_suspended_by_restriction(session, server, False)


def _mark_suspended_by_restriction(session: Session, server: Server, value: bool) -> None:
    session.execute(update(Server).where(col(Server.id) == server.id).values(suspended_by_restriction=value))
    session.refresh(server)


def queue_contract_notice(
    session: Session,
    contract: Contract,
    *,
    kind: str,
    clause: str,
    subject: str,
    body: str,
    key: str,
    at: datetime,
) -> None:
    """The customer's notice, in the decision's transaction; the key makes reruns queue nothing new."""
    customer = session.get(Customer, contract.customer_id)
    if customer is None:
        return
    draft = NoticeDraft(kind, clause, f"[D-Cloud] {subject}", body)
    queue_notice(session, customer=customer, contract_id=contract.id, draft=draft, dedupe_key=key, now=at)
