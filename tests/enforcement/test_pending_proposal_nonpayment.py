"""An ex-officio proposal still waiting for its second operator never holds up the automatic Art. 21(1)
nonpayment termination: found by the time-travel simulation (seed 2), where a contract proposed by billing
and never confirmed stayed restricted, unpaid, for ever."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.models import AuditEvent, Termination
from controlplane.schemas.enforcement import TerminationCreate
from controlplane.services.enforcement import terminations as termination_service
from tests.enforcement.test_nonpayment import DAY_31, DUE, seed, state_of, sweep
from tests.utils.factories import noon


def _propose_ex_officio(engine: Engine, contract_id: int) -> int:
    with Session(engine) as session:
        proposed = termination_service.request_termination(
            session,
            contract_id=contract_id,
            now=noon(DUE + timedelta(days=5)),
            actor="billing:park",
            token_id=101,
            request=TerminationCreate(kind="ex_officio", reason="fees unpaid"),  # type: ignore[arg-type]
        )
        return proposed.id or 0


def test_unconfirmed_proposal_does_not_stop_the_nonpayment_termination_on_r_plus_6(engine: Engine) -> None:
    contract_id, _, _ = seed(engine)
    proposal = _propose_ex_officio(engine, contract_id)
    sweep(engine, DAY_31)
    assert state_of(engine, contract_id)[0] == "restricted"
    sweep(engine, DAY_31 + timedelta(days=5))
    assert state_of(engine, contract_id)[0] == "restricted"
    sweep(engine, DAY_31 + timedelta(days=6))
    assert state_of(engine, contract_id) == ("terminating", ["stopped", "stopped"])
    with Session(engine) as session:
        termination = session.exec(select(Termination)).one()
        assert termination.id == proposal  # the proposal's row is taken over by the policy's decision
        assert (termination.kind, termination.clause) == ("nonpayment", "Art. 21(1)")
        assert termination.confirmed_by is not None and termination.confirmed_by.startswith("policy:")
        assert termination.effective_on == DAY_31 + timedelta(days=6)
        superseded = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity_type == "termination", AuditEvent.action == "decide:nonpayment"
            )
        ).one()
        assert superseded.before is not None and superseded.before["kind"] == "ex_officio"


def test_unconfirmed_proposal_alone_still_starts_nothing(engine: Engine) -> None:
    contract_id, _, _ = seed(engine)
    _propose_ex_officio(engine, contract_id)
    kinds = {a.kind for a in sweep(engine, DAY_31 - timedelta(days=1))}
    assert "terminate" not in kinds
    assert state_of(engine, contract_id) == ("active", ["running", "running"])
