"""The enforcement sweep decides each contract by its pinned version, in one sweep; an unknown pinned
version fails that contract's policy-bound decisions loudly and touches nothing else."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.db import session_scope
from controlplane.models import AuditEvent, Block, Contract, Server
from controlplane.services.enforcement import sweep as enforcement
from tests.utils.factories import make_invoice, make_world, noon
from tests.utils.policies import DEFAULT_VERSION, SLOW_VERSION

DUE = date(2027, 2, 28)


def sweep(engine: Engine, day: date) -> enforcement.ApplyResult:
    with Session(engine) as session:
        actions = enforcement.plan(session, day, now=noon(day))
    return enforcement.apply(engine, actions, day, "system:sweep", now=noon(day))


def seed(engine: Engine, *versions: str) -> list[int]:
    with session_scope(engine) as session:
        ids = []
        for version in versions:
            contract, _ = make_world(session, servers=1, terms_version=version)
            make_invoice(session, contract, due=DUE)
            ids.append(contract.id or 0)
        return ids


def states(engine: Engine, ids: list[int]) -> list[tuple[str, list[str]]]:
    with Session(engine) as session:
        out = []
        for contract_id in ids:
            contract = session.get(Contract, contract_id)
            assert contract is not None
            servers = session.exec(select(Server).where(Server.contract_id == contract_id)).all()
            out.append((contract.state, [s.desired_state for s in servers]))
        return out


def test_contract_pinned_to_45_days_is_restricted_on_day_46_the_default_one_on_day_31(
    engine: Engine, deployed: Path
) -> None:
    default_id, slow_id = seed(engine, DEFAULT_VERSION, SLOW_VERSION)
    sweep(engine, DUE + timedelta(days=31))
    assert states(engine, [default_id, slow_id]) == [("restricted", ["suspended"]), ("active", ["running"])]
    sweep(engine, DUE + timedelta(days=45))
    assert states(engine, [slow_id]) == [("active", ["running"])]
    sweep(engine, DUE + timedelta(days=46))
    assert states(engine, [slow_id]) == [("restricted", ["suspended"])]
    with Session(engine) as session:
        started = {b.contract_id: b.started_at for b in session.exec(select(Block)).all()}
    assert started == {default_id: noon(DUE + timedelta(days=31)), slow_id: noon(DUE + timedelta(days=46))}


def test_warning_and_termination_follow_the_pinned_version(engine: Engine, deployed: Path) -> None:
    (slow_id,) = seed(engine, SLOW_VERSION)
    with Session(engine) as session:
        day_39 = enforcement.plan(session, DUE + timedelta(days=39), now=noon(DUE + timedelta(days=39)))
    # restriction on day 46, less 7 warning days: the pre-restriction warning comes on day 39, not day 24.
    assert [(a.kind, a.notice) for a in day_39] == [("notify", "restriction_warning")]
    sweep(engine, DUE + timedelta(days=46))
    sweep(engine, DUE + timedelta(days=52))  # the 5 (pinned) days after the restriction day have passed
    assert states(engine, [slow_id])[0][0] == "terminating"


def test_unknown_pinned_version_fails_loudly_and_the_others_proceed(
    engine: Engine, deployed: Path, caplog: pytest.LogCaptureFixture
) -> None:
    known_id, unknown_id = seed(engine, DEFAULT_VERSION, "1999-01")
    day = DUE + timedelta(days=60)
    with caplog.at_level(logging.ERROR, logger="controlplane.services.enforcement.sweep"):
        result = sweep(engine, day)
    assert states(engine, [known_id, unknown_id]) == [("restricted", ["suspended"]), ("active", ["running"])]
    assert [(a.kind, a.contract_id) for a, _ in result.failed] == [("policy_unknown", unknown_id)]
    assert "1999-01" in result.failed[0][1]
    assert not [a for a in result.applied if a.contract_id == unknown_id]
    assert any("1999-01" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    with Session(engine) as session:
        failed = select(AuditEvent).where(AuditEvent.action == "sweep_failed:policy_unknown")
        audit = session.exec(failed).one()
    assert (audit.entity_id, audit.clause) == (str(unknown_id), "Art. 3(4)")


def test_unknown_pinned_version_never_terminates_even_long_overdue(engine: Engine, deployed: Path) -> None:
    (unknown_id,) = seed(engine, "1999-01")
    for offset in (30, 35, 90, 365):
        result = sweep(engine, DUE + timedelta(days=offset))
        assert [a.kind for a, _ in result.failed] == ["policy_unknown"]
    assert states(engine, [unknown_id]) == [("active", ["running"])]
