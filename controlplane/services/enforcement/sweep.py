"""The enforcement sweep: decide, then act (ARCHITECTURE.md).

`plan` loads the facts of every contract in bulk and asks the terms what is due on `as_of`; nothing is
written. `apply` takes each contract's planned actions in its own transaction: it locks the contract row
(the lock payments take, see `contract_lock`), re-decides from fresh facts, and executes only the actions
the fresh decision still contains. An action the fresh facts no longer support (a payment landed in
between) is dropped and recorded. Re-applying a plan therefore changes nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import assert_never

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.errors import InvalidInput
from controlplane.models.customer import Contract
from controlplane.models.enforcement import Block, Termination
from controlplane.policy_registry import PolicyLookup, known_policies
from controlplane.services.audit import record_change
from controlplane.services.billing.credits import (
    credit_balance,
    customers_with_credit_and_open_invoices,
    settle_with_credit,
)
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement import blocks as block_service
from controlplane.services.enforcement import termination_effects
from controlplane.services.enforcement import terminations as termination_service
from controlplane.services.enforcement.decisions import SweepAction, SweepKind, decide_pinned
from controlplane.services.enforcement.effects import converge_contract, queue_contract_notice
from controlplane.services.enforcement.facts import load_facts
from controlplane.services.enforcement.termination_settlement import settle_if_paid
from controlplane.terms.actions import NoticeKind
from controlplane.terms.calendar import seoul_date, seoul_midnight
from controlplane.terms.lifecycle import TerminationKind
from controlplane.terms.policy import Policy

log = logging.getLogger(__name__)

_SUBJECTS: dict[str, str] = {
    NoticeKind.RESTRICTION_WARNING: "Payment overdue: service will be restricted",
    NoticeKind.RESTRICTED: "Service restricted for nonpayment",
    NoticeKind.LIFTED: "Service restored",
    NoticeKind.TERMINATION: "Contract terminated for nonpayment",
    NoticeKind.TERMINATION_ELIGIBLE: "Contract may be terminated for nonpayment",
}


def sweep_moment(as_of: date, now: datetime) -> datetime:
    """The moment actions take effect: now, or the start of `as_of` when asking about a later day."""
    return now if seoul_date(now) >= as_of else seoul_midnight(as_of)


def _versions(policy: Policy | None) -> list[Policy]:
    return [policy] if policy is not None else known_policies()


def plan(session: Session, as_of: date, *, now: datetime, policy: Policy | None = None) -> list[SweepAction]:
    """Every action due on `as_of`, in contract order; a dry run (nothing is written).

    Each contract is decided with its pinned terms version (one look-up per version); `policy`
    overrides that for every contract (what-if runs and tests)."""
    at = sweep_moment(as_of, now)
    facts = load_facts(session, as_of=as_of, at=at, policies=_versions(policy))
    lookup = PolicyLookup()
    actions: list[SweepAction] = []
    for contract_id in sorted(facts):
        actions += decide_pinned(facts[contract_id], as_of=as_of, at=at, policies=lookup, override=policy)
    return actions


@dataclass
class ApplyResult:
    applied: list[SweepAction] = field(default_factory=list)
    dropped: list[tuple[SweepAction, str]] = field(default_factory=list)
    failed: list[tuple[SweepAction, str]] = field(default_factory=list)


def apply(
    engine: Engine,
    actions: list[SweepAction],
    as_of: date,
    actor: str,
    *,
    now: datetime,
    policy: Policy | None = None,
    after_commit: Callable[[int], None] | None = None,
) -> ApplyResult:
    """Executes a plan, one transaction per contract, each action re-checked under the contract lock.

    Only today or an earlier day may be applied: a day ahead is for dry runs ("what happens on
    2027-03-30?"), and applying it would restrict or terminate before the terms allow. `after_commit`
    is called with each contract's id once its transaction committed (production passes none; the crash
    tests kill the process there, scheduler/faults.py).
    """
    if as_of > seoul_date(now):
        raise InvalidInput(
            f"as_of {as_of} is after today ({seoul_date(now)} in Seoul); a later day can only be planned, "
            "not applied",
            field="as_of",
        )
    at = sweep_moment(as_of, now)
    result = ApplyResult()
    _settle_credit_first(engine, actions, at=at, actor=actor)
    lookup = PolicyLookup()
    by_contract: dict[int, list[SweepAction]] = defaultdict(list)
    for action in actions:
        by_contract[action.contract_id].append(action)
    for contract_id, group in by_contract.items():
        # What this contract's transaction did counts only once it committed: a commit that fails (the
        # database went away at that moment) rolls every action back, so none of them may be reported
        # as applied.
        outcome = ApplyResult()
        try:
            with session_scope(engine) as session:
                _apply_contract(
                    session,
                    contract_id,
                    group,
                    as_of=as_of,
                    at=at,
                    actor=actor,
                    policies=lookup,
                    override=policy,
                    result=outcome,
                )
        except Exception as exc:  # one contract's failure must not stop the sweep for the others
            log.exception("enforcement on contract %s failed", contract_id)
            result.failed += [(a, f"{type(exc).__name__}: {exc}") for a in group]
            continue
        result.applied += outcome.applied
        result.dropped += outcome.dropped
        result.failed += outcome.failed
        if after_commit is not None:
            after_commit(contract_id)
    _lift_if_paid_meanwhile(engine, result, at=at, policy=policy)
    return result


def _settle_credit_first(engine: Engine, actions: list[SweepAction], *, at: datetime, actor: str) -> None:
    """Art. 35(3): before any enforcement decision, each customer's cash credit settles its open invoices
    (oldest first), so the fresh re-decision under the contract lock sees credit as money paid."""
    contract_ids = {a.contract_id for a in actions}
    if not contract_ids:
        return
    with Session(engine) as session:
        customers = set(
            session.exec(select(Contract.customer_id).where(col(Contract.id).in_(contract_ids))).all()
        )
        with_credit = [c for c in customers_with_credit_and_open_invoices(session) if c in customers]
    for customer_id in with_credit:
        with session_scope(engine) as session:
            settle_with_credit(session, customer_id=customer_id, now=at, actor=actor)


def _apply_contract(
    session: Session,
    contract_id: int,
    group: list[SweepAction],
    *,
    as_of: date,
    at: datetime,
    actor: str,
    policies: PolicyLookup,
    override: Policy | None,
    result: ApplyResult,
) -> None:
    contract = lock_contract(session, contract_id)
    facts = load_facts(session, as_of=as_of, at=at, policies=_versions(override), contract_ids=[contract_id])
    fresh = {
        a.key: a
        for a in (
            decide_pinned(facts[contract_id], as_of=as_of, at=at, policies=policies, override=override)
            if contract_id in facts
            else []
        )
    }
    for action in group:
        current = fresh.get(action.key)
        if current is None:
            why = "no longer due on fresh facts (paid, lifted or already done)"
            log.info("enforcement dropped %s on contract %s: %s", action.kind, contract_id, why)
            record_change(
                session,
                at=at,
                actor=actor,
                entity_type="contract",
                entity_id=contract_id,
                action=f"sweep_dropped:{action.kind}",
                clause=action.clause,
                after={"key": action.key, "why": why},
            )
            result.dropped.append((action, why))
            continue
        if current.kind == SweepKind.POLICY_UNKNOWN:
            _record_policy_unknown(session, current, at=at, actor=actor, result=result)
            continue
        _execute(session, contract, current, at=at, actor=actor)
        # A late sweep acts late, never early: the record keeps the day the terms allowed and the day acted.
        record_change(
            session,
            at=at,
            actor=actor,
            entity_type="contract",
            entity_id=contract_id,
            action=f"sweep_acted:{current.kind}",
            clause=current.clause,
            after={
                "key": current.key,
                "allowed_on": current.deadline.isoformat(),
                "acted_on": seoul_date(at).isoformat(),
                "counting": current.counting,
            },
        )
        result.applied.append(current)


def _record_policy_unknown(
    session: Session, action: SweepAction, *, at: datetime, actor: str, result: ApplyResult
) -> None:
    """Fails the contract's policy-bound decisions loudly: logged, audited, counted in `failed`."""
    log.error("enforcement on contract %s failed: %s", action.contract_id, action.reason)
    record_change(
        session,
        at=at,
        actor=actor,
        entity_type="contract",
        entity_id=action.contract_id,
        action=f"sweep_failed:{action.kind}",
        clause=action.clause,
        after={"key": action.key, "why": action.reason},
    )
    result.failed.append((action, action.reason))


def _execute(session: Session, contract: Contract, action: SweepAction, *, at: datetime, actor: str) -> None:
    match action.kind:
        case SweepKind.RESTRICT:
            block_service.restrict_for_nonpayment(
                session,
                contract,
                invoice_id=action.invoice_ids[0] if action.invoice_ids else None,
                clause=action.clause,
                reason=action.reason,
                at=at,
                actor=actor,
            )
        case SweepKind.LIFT:
            block = session.get(Block, action.block_id)
            if block is not None and block.lifted_at is None:
                block_service.lift_block(
                    session, contract, block, at=at, actor=actor, clause=action.clause, reason=action.reason
                )
        case SweepKind.NOTIFY:
            notice = action.notice or "notice"
            queue_contract_notice(
                session,
                contract,
                kind=notice,
                clause=action.clause,
                subject=f"{_SUBJECTS.get(notice, notice)} (contract {contract.id})",
                body=action.reason + "\n",
                key=action.key,
                at=at,
            )
        case SweepKind.TERMINATE:
            _terminate(session, contract, action, at=at, actor=actor)
        case SweepKind.ELIGIBLE:
            if action.termination_id is None:  # listed once; a listed one waits for its confirmation
                termination_service.record_eligible(
                    session,
                    contract,
                    kind=action.termination_kind or TerminationKind.EX_OFFICIO,
                    clause=action.clause,
                    reason=action.reason,
                    effective_on=action.deadline,
                    at=at,
                    actor=actor,
                )
        case SweepKind.ENFORCE_BLOCK:
            converge_contract(
                session, contract, at=at, actor=actor, clause=action.clause, reason=action.reason
            )
        case SweepKind.COMPLETE:
            termination_effects.complete_termination(session, contract, at=at, actor=actor)
        case SweepKind.SETTLE:
            termination = session.get(Termination, action.termination_id)
            if termination is not None:
                settle_if_paid(session, termination, at=at, actor=actor)
        case SweepKind.DISPUTE_DUE | SweepKind.SPAM_RESTRICTION:
            pass  # listed for an operator to act on; the sweep itself decides nothing about it
        case SweepKind.POLICY_UNKNOWN:  # recorded as a failure by _record_policy_unknown, never executed
            raise ValueError(f"sweep action kind {action.kind!r} is not executable")
        case unknown:
            assert_never(unknown)


def _terminate(
    session: Session, contract: Contract, action: SweepAction, *, at: datetime, actor: str
) -> None:
    if action.termination_id is not None:
        termination = session.get(Termination, action.termination_id)
    else:  # Art. 21(1) with auto_terminate_nonpayment: decided and confirmed by policy
        termination = termination_service.decide_by_policy(
            session,
            contract,
            kind=action.termination_kind or TerminationKind.NONPAYMENT,
            clause=action.clause,
            reason=action.reason,
            at=at,
            actor=actor,
        )
        # The re-check at the moment of acting, on record: what was still unpaid after credit, under lock.
        record_change(
            session,
            at=at,
            actor=actor,
            entity_type="termination",
            entity_id=termination.id or 0,
            action="recheck",
            clause=action.clause,
            after={
                "invoices": list(action.invoice_ids),
                "paid_up": False,
                "credit_balance": credit_balance(session, contract.customer_id),
                "allowed_on": action.deadline.isoformat(),
                "counting": action.counting,
            },
        )
    if termination is not None:
        termination_effects.start_termination(session, contract, termination, at=at, actor=actor)


def _lift_if_paid_meanwhile(
    engine: Engine, result: ApplyResult, *, at: datetime, policy: Policy | None
) -> None:
    """A payment that committed just after a restriction is honoured within the same sweep (Art. 16(5)).

    Best effort, like each contract's apply: a failure here (the database went away mid-sweep) is logged
    and must not discard the result of the actions already committed. Nothing is lost by skipping it: a
    restricted contract whose arrears are settled is planned a `lift` by the next sweep."""
    for contract_id in sorted({a.contract_id for a in result.applied if a.kind == SweepKind.RESTRICT}):
        try:
            with session_scope(engine) as session:
                block_service.lift_nonpayment_if_paid(
                    session, contract_id, at, actor="system:enforcement", policy=policy
                )
        except Exception:
            log.exception("paid-meanwhile re-check on contract %s failed; next sweep decides", contract_id)
