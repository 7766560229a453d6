"""What a server's contract forbids, checked where desired state is changed and where it is served.

Two rules from the terms that the plain server actions must not bypass:
- a server under an active full restriction (Art. 16, 33) is not started or resumed by an ordinary
  action; only lifting the block resumes it (otherwise a restricted customer could undo a suspension);
  the customer itself changes nothing of a fully restricted server (not even a stop: its suspended
  state is the restriction's, and a stop would end `suspended_by_restriction`);
- a server bound to a contract is wiped only while that contract is `terminating` (Art. 20(8),
  ARCHITECTURE "Irreversible means two-step"), re-checked when the agent asks right before the wipe.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from controlplane.errors import Conflict
from controlplane.models.customer import Contract, ContractState
from controlplane.models.enforcement import Block, Termination
from controlplane.models.server import DesiredState, Server

WIPE_ALLOWED_CONTRACT_STATES = frozenset({ContractState.TERMINATING, ContractState.TERMINATED})


def check_action_allowed(
    session: Session, server: Server, action: str, now: datetime, *, by_tenant: bool = False
) -> None:
    if server.contract_id is None:
        return
    if by_tenant or action in ("start", "resume"):
        block = _active_full_block(session, server.contract_id, now)
        if block is not None:
            raise Conflict(
                f"cannot {action} server {server.id}: its contract is restricted by block {block.id} "
                f"({block.kind}, {block.clause}); the server resumes when the block is lifted"
            )
    if action == "delete":
        contract = session.get(Contract, server.contract_id)
        if contract is not None and contract.state not in WIPE_ALLOWED_CONTRACT_STATES:
            raise Conflict(
                f"cannot delete server {server.id}: contract {contract.id} is {contract.state!r}; a "
                "contract's servers are deleted and wiped only by terminating it (Art. 20(8))"
            )


def wipe_withheld(session: Session, servers: Iterable[Server]) -> set[str]:
    """Ids of servers desired deleted that the agent must not wipe: their contract is not terminating, or
    its termination's wipe has not been ordered yet (the notice is not out)."""
    candidates = [s for s in servers if s.desired_state == DesiredState.DELETED and s.contract_id is not None]
    if not candidates:
        return set()
    contract_ids = {s.contract_id for s in candidates}
    allowed = set(
        session.exec(
            select(Contract.id).where(col(Contract.id).in_(contract_ids), wipe_allowed_clause())
        ).all()
    )
    return {s.id for s in candidates if s.contract_id not in allowed}


def wipe_allowed_clause() -> Any:
    """SQL truth of "this contract's servers may be wiped": terminated, or terminating with the wipe
    ordered (Art. 20(8): after the termination notice reached the relay)."""
    ordered = (
        select(Termination.id)
        .where(
            Termination.contract_id == Contract.id,
            col(Termination.wipe_ordered_at).is_not(None),
            col(Termination.withdrawn_at).is_(None),
        )
        .exists()
    )
    return or_(
        col(Contract.state) == ContractState.TERMINATED.value,
        and_(col(Contract.state) == ContractState.TERMINATING.value, ordered),
    )


def active_full_block(session: Session, server: Server, now: datetime) -> Block | None:
    """The full restriction covering `server` at `now` (the oldest, if several), or None."""
    return None if server.contract_id is None else _active_full_block(session, server.contract_id, now)


def _active_full_block(session: Session, contract_id: int, now: datetime) -> Block | None:
    query = (
        select(Block)
        .where(
            Block.contract_id == contract_id,
            Block.scope == "full",
            col(Block.lifted_at).is_(None),
            col(Block.started_at) <= now,
        )
        .order_by(col(Block.id))
    )
    return session.exec(query).first()


def smtp_blocked_server_ids(session: Session, server_ids: Collection[str], at: datetime) -> set[str]:
    """The servers whose desired state must carry `block_outbound_smtp=True` at `at` (one query)."""
    if not server_ids:
        return set()
    query = (
        select(Server.id)
        .join(Block, col(Block.contract_id) == col(Server.contract_id))
        .where(
            col(Server.id).in_(list(server_ids)),
            Block.scope == "smtp",
            col(Block.lifted_at).is_(None),
            col(Block.started_at) <= at,
        )
    )
    return {str(sid) for sid in session.execute(query).scalars()}
