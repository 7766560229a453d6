"""A customer who withdraws its termination request carries on, and is never billed the early-termination
penalty of the request it withdrew (Art. 20(2), 32(3)). Found by the time-travel simulation (seed 7):
the withdrawn request's penalty was billed on the invoice of its would-be last day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.models import Termination
from controlplane.services.enforcement.terminations import withdraw_termination
from tests.billing.test_termination_settlement import (
    PENALTY,
    PLAN_LINE,
    at,
    engine,
    lines_of,
    monthly,
    run,
    terminate,
)

__all__ = ["engine", "monthly"]  # the fixture


def test_a_withdrawn_request_bills_no_penalty(engine: Engine, monthly: int) -> None:
    assert terminate(engine, monthly) == (PENALTY, 0)
    with Session(engine) as session:
        tid = session.exec(select(Termination.id)).one()
        withdraw_termination(
            session, termination_id=tid or 0, now=at(date(2027, 6, 10)), actor="test", reason="stays"
        )
    run(engine, "2027-05")
    run(engine, "2027-06")
    assert lines_of(engine, monthly, "2027-06") == [PLAN_LINE]
