"""Blocks: each restriction of a contract is a row (map §3). Nonpayment blocks come and go with the
arrears (Art. 33(1), 16(5)); operator blocks (Art. 16(4) items 1-18, emergencies under 16(1)) need an
operator to lift them. A `smtp` block keeps the servers running with outbound TCP 25 blocked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.customer import Contract, ContractState
from controlplane.models.enforcement import PARTIAL_SCOPES, Block, BlockScope
from controlplane.policy_registry import PolicyLookup, known_policies, pinned_policy
from controlplane.schemas.enforcement import BlockCreate
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement.effects import (
    bump_server_generation,
    contract_servers,
    converge_contract,
    queue_contract_notice,
)
from controlplane.terms.calendar import seoul_date
from controlplane.terms.errors import TermsError
from controlplane.terms.policy import Policy
from controlplane.terms.restriction import check_restriction_period, item_clause, latest_restriction_end

_IN_SERVICE = (ContractState.ACTIVE, ContractState.RESTRICTED)


def block_snapshot(block: Block) -> dict[str, object]:
    return {
        "kind": block.kind,
        "scope": block.scope,
        "clause": block.clause,
        "item": block.item,
        "bandwidth_kbytes": block.bandwidth_kbytes,
        "started_at": block.started_at.isoformat(),
        "lifted_at": block.lifted_at.isoformat() if block.lifted_at else None,
    }


def restrict_for_nonpayment(
    session: Session,
    contract: Contract,
    *,
    invoice_id: int | None,
    clause: str,
    reason: str,
    at: datetime,
    actor: str,
) -> Block:
    """Art. 33(1): a nonpayment block starting now, the contract restricted, its servers suspended."""
    block = Block(
        contract_id=contract.id or 0,
        kind="nonpayment",
        scope="full",
        clause=clause,
        reason=reason[:400],
        invoice_id=invoice_id,
        started_at=at,
        notice_sent_at=at,
        created_by=actor,
    )
    session.add(block)
    session.flush()
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="block",
        entity_id=block.id or 0,
        action="restrict",
        clause=clause,
        after=block_snapshot(block),
    )
    converge_contract(session, contract, at=at, actor=actor, clause=clause, reason=reason)
    return block


def lift_block(
    session: Session, contract: Contract, block: Block, *, at: datetime, actor: str, clause: str, reason: str
) -> None:
    """Ends one block; servers resume only if no other full block still covers them."""
    before = block_snapshot(block)
    block.lifted_at = at
    block.lifted_by = actor
    session.add(block)
    session.flush()
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="block",
        entity_id=block.id or 0,
        action="lift",
        clause=clause,
        before=before,
        after=block_snapshot(block),
    )
    if block.scope in PARTIAL_SCOPES:
        _refresh_traffic(session, contract, at=at, actor=actor, clause=clause, action=f"{block.scope}_lift")
    converge_contract(
        session, contract, at=at, actor=actor, clause=clause, reason=reason, resume=block.scope == "full"
    )


def lift_nonpayment_if_paid(
    session: Session,
    contract_id: int,
    at: datetime,
    *,
    actor: str = "system:payments",
    policy: Policy | None = None,
) -> bool:
    """Art. 16(5): call after a payment is recorded, in the payment's transaction (the contract row is
    locked there, or here). Lifts the nonpayment block when the terms say the arrears are settled,
    by the contract's pinned terms version (`policy` overrides it)."""
    from controlplane.services.enforcement.decisions import SweepKind, decide_pinned
    from controlplane.services.enforcement.facts import load_facts

    contract = lock_contract(session, contract_id)
    versions = [policy] if policy is not None else known_policies()
    facts = load_facts(session, as_of=seoul_date(at), at=at, policies=versions, contract_ids=[contract_id])
    found = facts.get(contract_id)
    if found is None or found.nonpayment_block is None:
        return False  # nothing to lift: a payment on an unknown pinned version still goes through
    pinned = policy or pinned_policy(contract.terms_version)
    actions = decide_pinned(found, as_of=seoul_date(at), at=at, policies=PolicyLookup(), override=pinned)
    lift = next((a for a in actions if a.kind == SweepKind.LIFT), None)
    if lift is None:
        return False
    block = session.get(Block, found.nonpayment_block.block_id)
    assert block is not None
    lift_block(session, contract, block, at=at, actor=actor, clause=lift.clause, reason=lift.reason)
    for notice in (a for a in actions if a.kind == SweepKind.NOTIFY):
        queue_contract_notice(
            session,
            contract,
            kind="restriction_lifted",
            clause=notice.clause,
            subject=f"Service restored for contract {contract_id}",
            body=notice.reason,
            key=notice.key,
            at=at,
        )
    return True


def create_operator_block(
    session: Session,
    *,
    contract_id: int,
    request: BlockCreate,
    now: datetime,
    actor: str,
    policy: Policy | None = None,
) -> Block:
    """An operator restriction with its notice, before or (when impractical) right after (Art. 16(4)).
    Its longest period is the contract's pinned version's (`policy` overrides it)."""
    block = add_operator_block(
        session, contract_id=contract_id, request=request, now=now, actor=actor, policy=policy
    )
    session.commit()
    return block


def add_operator_block(
    session: Session,
    *,
    contract_id: int,
    request: BlockCreate,
    now: datetime,
    actor: str,
    policy: Policy | None = None,
    audit: dict[str, object] | None = None,
) -> Block:
    """`create_operator_block` without the commit, for use cases that restrict as one of their steps
    (a confirmed spam restriction, Art. 26(6)); `audit` adds fields to the block's audit record."""
    contract = lock_contract(session, contract_id)
    if contract.state not in _IN_SERVICE:
        raise Conflict(
            f"contract {contract_id} is {contract.state}; only an active or restricted "
            "contract can be restricted",
            field="state",
        )
    clause, starts_at, planned_end = _validated(request, now, policy or pinned_policy(contract.terms_version))
    block = Block(
        contract_id=contract_id,
        kind=request.kind,
        scope=request.scope,
        clause=clause,
        item=request.item,
        bandwidth_kbytes=request.bandwidth_kbytes,
        reason=request.reason,
        started_at=starts_at,
        planned_end=planned_end,
        notice_sent_at=now,
        created_by=actor,
    )
    session.add(block)
    session.flush()
    after = {
        **block_snapshot(block),
        "notice": request.notice,
        "notice_after_reason": request.notice_after_reason,
        **(audit or {}),
    }
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="block",
        entity_id=block.id or 0,
        action="restrict",
        clause=clause,
        after=after,
    )
    _queue_block_notice(session, contract, block, request)
    if request.scope in PARTIAL_SCOPES:
        _refresh_traffic(
            session, contract, at=now, actor=actor, clause=clause, action=f"{request.scope}_block"
        )
    converge_contract(session, contract, at=now, actor=actor, clause=clause, reason=request.reason)
    return block


def _validated(request: BlockCreate, now: datetime, policy: Policy) -> tuple[str, datetime, datetime | None]:
    if request.kind == "emergency":
        clause = "Art. 16(1)"
    elif request.item is None:
        raise InvalidInput("an Art. 16(4) restriction names its item number 1-18", field="item")
    else:
        _check_scope_fits_item(request.scope, request.item)
        clause = str(item_clause(request.item))
    if request.notice == "before":
        if request.starts_at is None or request.starts_at <= now:
            raise InvalidInput("notice before the restriction needs a future starts_at", field="starts_at")
        starts_at = request.starts_at
    else:
        if not request.notice_after_reason:
            raise InvalidInput("say why notice first was impractical", field="notice_after_reason")
        starts_at = now
    planned_end = request.planned_end
    if planned_end is None and request.kind != "emergency":
        day = latest_restriction_end(seoul_date(starts_at), policy)
        planned_end = starts_at + timedelta(days=(day - seoul_date(starts_at)).days)
    if planned_end is not None:
        try:
            check_restriction_period(seoul_date(starts_at), seoul_date(planned_end), policy)
        except TermsError as exc:
            raise InvalidInput(exc.message, field=exc.field) from exc
    return clause, starts_at, planned_end


# Which Art. 16(4) items each partial restriction answers (TERMS-MAP §3); an emergency (16(1)) may use any.
_ITEMS_OF_SCOPE: dict[BlockScope, frozenset[int]] = {
    BlockScope.QUARANTINE: frozenset({6, 13, 14, 16}),
    BlockScope.BANDWIDTH: frozenset({17}),
}


def _check_scope_fits_item(scope: BlockScope, item: int) -> None:
    allowed = _ITEMS_OF_SCOPE.get(scope)
    if allowed is not None and item not in allowed:
        items = ", ".join(str(i) for i in sorted(allowed))
        raise InvalidInput(
            f"a {scope} restriction answers Art. 16(4) items {items}, not {item}", field="item"
        )


_WHAT: dict[str, str] = {
    BlockScope.SMTP: "outbound e-mail (TCP port 25) is blocked",
    BlockScope.QUARANTINE: "your servers are quarantined (only our management network is reachable)",
    BlockScope.FULL: "your servers are suspended",
}


def _queue_block_notice(session: Session, contract: Contract, block: Block, request: BlockCreate) -> None:
    when = "from " + block.started_at.isoformat()
    until = f" until {block.planned_end.isoformat()}" if block.planned_end else ""
    what = _WHAT.get(block.scope, f"your servers' bandwidth is capped at {block.bandwidth_kbytes} KB/s")
    body = (
        f"Under {block.clause}, {what} on contract {contract.id} {when}{until}.\nReason: {block.reason}\n"
        "Please resolve the cause within 1 month after the restriction period (Art. 16(5)).\n"
    )
    if request.notice == "after":
        body += f"We could not notify you in advance: {request.notice_after_reason}\n"
    queue_contract_notice(
        session,
        contract,
        kind=f"restriction_{request.notice}",
        clause=block.clause,
        subject=f"Service restriction on contract {contract.id}",
        body=body,
        key=f"block:{block.id}:notice",
        at=block.notice_sent_at or block.started_at,
    )


def lift_operator_block(session: Session, *, block_id: int, now: datetime, actor: str, reason: str) -> Block:
    block = session.get(Block, block_id)
    if block is None:
        raise NotFound(f"no block {block_id}", field="block_id")
    contract = lock_contract(session, block.contract_id)
    session.refresh(block)
    if block.lifted_at is not None:
        return block  # lifting twice changes nothing
    lift_block(session, contract, block, at=now, actor=actor, clause="Art. 16(5)", reason=reason)
    queue_contract_notice(
        session,
        contract,
        kind="restriction_lifted",
        clause="Art. 16(5)",
        subject=f"Restriction lifted on contract {contract.id}",
        body=f"The {block.kind} restriction ({block.clause}) is lifted: {reason}\n",
        key=f"block:{block.id}:lifted",
        at=now,
    )
    session.commit()
    return block


def list_blocks(
    session: Session, *, contract_id: int | None = None, active_only: bool = False
) -> list[Block]:
    query = select(Block)
    if contract_id is not None:
        query = query.where(Block.contract_id == contract_id)
    if active_only:
        query = query.where(col(Block.lifted_at).is_(None))
    return list(session.exec(query.order_by(col(Block.id))).all())


def _refresh_traffic(
    session: Session, contract: Contract, *, at: datetime, actor: str, clause: str, action: str
) -> None:
    for server in contract_servers(session, contract.id or 0):
        bump_server_generation(session, server, at=at, actor=actor, clause=clause, action=action)
