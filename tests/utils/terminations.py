"""Terminations in tests: the nonpayment path, the two-person path, notices delivered for real."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.clock import FixedClock
from controlplane.notify import LoggingSmsProvider
from controlplane.schemas.enforcement import TerminationCreate
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement import terminations as termination_service
from controlplane.services.enforcement.termination_effects import start_termination
from controlplane.services.notices import deliver_due_notices
from tests.utils.relay import Relay, running_relay


def start_policy_termination(engine: Engine, contract_id: int, now: datetime) -> int:
    """What the sweep does on the Art. 21(1) day: decided by policy, started (servers stopped, notice)."""
    with Session(engine) as session:
        contract = lock_contract(session, contract_id)
        termination = termination_service.decide_by_policy(
            session,
            contract,
            kind="nonpayment",
            clause="Art. 21(1)",
            reason="unpaid",
            at=now,
            actor="system:test",
        )
        start_termination(session, contract, termination, at=now, actor="system:test")
        session.commit()
        return termination.id or 0


def deliver_notices_now(engine: Engine, now: datetime) -> list[str]:
    """One outbox run against a real loopback SMTP relay; the subjects it accepted."""
    with running_relay() as relay:
        deliver_due_notices(engine, relay.sender(), LoggingSmsProvider(), FixedClock(now))
        return relay.subjects_sent()


def terminate_by_two_operators(
    engine: Engine, contract_id: int, *, kind: str, reason: str, now: datetime
) -> int:
    """Billing proposes an ex-officio or insolvency termination, a different operator confirms it."""
    with Session(engine) as session:
        proposed = termination_service.request_termination(
            session,
            contract_id=contract_id,
            now=now,
            actor="billing:park",
            token_id=101,
            request=TerminationCreate(kind=kind, reason=reason),
        )  # type: ignore[arg-type]
        termination_id = proposed.id or 0
    with Session(engine) as session:
        confirmer = termination_service.Confirmer(actor="operator:lee", role="operator", token_id=202)
        termination_service.confirm_termination(
            session, termination_id=termination_id, now=now, confirmer=confirmer
        )
    return termination_id


def deliver_notices(engine: Engine, relay: Relay, now: datetime) -> None:
    """Runs the outbox once against a real SMTP relay, as the notice-delivery job does."""
    deliver_due_notices(engine, relay.sender(), LoggingSmsProvider(), FixedClock(now))
