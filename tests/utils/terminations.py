"""Terminations in tests: the automatic nonpayment path started at once, its notice delivered for real."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.clock import FixedClock
from controlplane.notify import LoggingSmsProvider
from controlplane.services import terminations as termination_service
from controlplane.services.contract_lock import lock_contract
from controlplane.services.notices import deliver_due_notices
from tests.utils.relay import running_relay


def start_policy_termination(engine: Engine, contract_id: int, now: datetime) -> int:
    """What the sweep does on the Art. 21(1) day: decided by policy, started (servers stopped, notice)."""
    with Session(engine) as session:
        contract = lock_contract(session, contract_id)
        termination = termination_service.decide_by_policy(
            session, contract, kind="nonpayment", clause="Art. 21(1)", reason="unpaid", at=now,
            actor="system:test")
        termination_service.start_termination(session, contract, termination, at=now, actor="system:test")
        session.commit()
        return termination.id or 0


def deliver_notices_now(engine: Engine, now: datetime) -> list[str]:
    """One outbox run against a real loopback SMTP relay; the subjects it accepted."""
    with running_relay() as relay:
        deliver_due_notices(engine, relay.sender(), LoggingSmsProvider(), FixedClock(now))
        return relay.subjects_sent()
