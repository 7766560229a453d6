"""Nonpayment (Art. 33(1), 21(1), 16(5)): restriction 30 days after due, termination 5 days after the
restriction actually began, lifting on payment in full; the plan is a dry run and apply is idempotent."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.errors import InvalidInput
from controlplane.models import AuditEvent, Block, Contract, Invoice, Notice, Server, Termination
from controlplane.services.enforcement import sweep as enforcement
from controlplane.services.enforcement.blocks import lift_nonpayment_if_paid
from tests.utils.factories import make_invoice, make_world, noon
from tests.utils.terminations import deliver_notices_now

DUE = date(2027, 2, 28)
DAY_31 = DUE + timedelta(days=31)  # 2027-03-31: the day after the 30 full days Mar 1 .. Mar 30


def sweep(engine: Engine, day: date, *, apply: bool = True) -> list[enforcement.SweepAction]:
    with Session(engine) as session:
        actions = enforcement.plan(session, day, now=noon(day))
    if apply:
        enforcement.apply(engine, actions, day, "system:sweep", now=noon(day))
    return actions


def seed(engine: Engine, **kw: object) -> tuple[int, list[str], int]:
    with session_scope(engine) as session:
        contract, servers = make_world(session)
        invoice = make_invoice(session, contract, **kw)  # type: ignore[arg-type]
        return contract.id or 0, [s.id for s in servers], invoice.id or 0


def state_of(engine: Engine, contract_id: int) -> tuple[str, list[str]]:
    with Session(engine) as session:
        contract = session.get(Contract, contract_id)
        servers = session.exec(select(Server).where(Server.contract_id == contract_id)).all()
        assert contract is not None
        return contract.state, sorted(s.desired_state for s in servers)


def test_restriction_acts_on_due_plus_31_not_30(engine: Engine) -> None:
    contract_id, _, _ = seed(engine)
    day_30 = sweep(engine, DAY_31 - timedelta(days=1))
    assert [a.kind for a in day_30] == ["notify"] and day_30[0].notice == "restriction_warning"
    assert state_of(engine, contract_id) == ("active", ["running", "running"])
    day_31 = sweep(engine, DAY_31)
    assert {a.kind for a in day_31} == {"restrict", "notify"}
    assert all(a.clause == "Art. 33(1)" for a in day_31)
    assert state_of(engine, contract_id) == ("restricted", ["suspended", "suspended"])
    with Session(engine) as session:
        block = session.exec(select(Block)).one()
        assert (block.kind, block.clause, block.started_at) == ("nonpayment", "Art. 33(1)", noon(DAY_31))
        audits = session.exec(select(AuditEvent).where(AuditEvent.action == "suspend")).all()
        assert len(audits) == 2 and all(a.clause == "Art. 33(1)" for a in audits)
        kinds = {n.kind for n in session.exec(select(Notice)).all()}
        assert {"restriction_warning", "restricted"} <= kinds


def test_plan_is_a_dry_run_and_apply_is_idempotent(engine: Engine) -> None:
    contract_id, _, _ = seed(engine)
    sweep(engine, DAY_31, apply=False)
    assert state_of(engine, contract_id)[0] == "active"
    actions = sweep(engine, DAY_31)
    with Session(engine) as session:
        counts = (
            len(session.exec(select(Block)).all()),
            len(session.exec(select(AuditEvent)).all()),
            len(session.exec(select(Notice)).all()),
        )
    result = enforcement.apply(engine, actions, DAY_31, "system:sweep", now=noon(DAY_31))
    assert result.applied == [] and len(result.dropped) == len(actions)
    assert sweep(engine, DAY_31) == []
    with Session(engine) as session:
        assert len(session.exec(select(Block)).all()) == counts[0]
        assert len(session.exec(select(Notice)).all()) == counts[2]


def test_termination_on_the_6th_day_after_the_actual_restriction_start(engine: Engine) -> None:
    contract_id, _, _ = seed(engine)
    late_start = DAY_31 + timedelta(days=3)  # the sweep did not run for three days
    sweep(engine, late_start)
    assert state_of(engine, contract_id)[0] == "restricted"
    assert [a.kind for a in sweep(engine, late_start + timedelta(days=5))] == []
    assert state_of(engine, contract_id)[0] == "restricted"
    actions = sweep(engine, late_start + timedelta(days=6))
    assert {a.kind for a in actions} == {"terminate", "notify"}
    assert state_of(engine, contract_id) == ("terminating", ["stopped", "stopped"])
    with Session(engine) as session:
        termination = session.exec(select(Termination)).one()
        assert (termination.kind, termination.clause) == ("nonpayment", "Art. 21(1)")


def test_missed_sweeps_never_skip_the_restriction_step(engine: Engine) -> None:
    contract_id, _, _ = seed(engine)
    far = DAY_31 + timedelta(days=20)  # restriction and termination days both passed unseen
    actions = sweep(engine, far)
    assert {a.kind for a in actions} == {"restrict", "notify"}
    assert state_of(engine, contract_id)[0] == "restricted"
    assert sweep(engine, far + timedelta(days=4)) == []
    assert state_of(engine, contract_id)[0] == "restricted"


def test_partial_payment_does_not_lift_and_full_payment_lifts(engine: Engine) -> None:
    contract_id, _, invoice_id = seed(engine)
    sweep(engine, DAY_31)
    paid_on = noon(DUE + timedelta(days=32))
    with session_scope(engine) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        invoice.paid_amount = 50_000
        session.add(invoice)
        assert lift_nonpayment_if_paid(session, contract_id, paid_on) is False
    assert state_of(engine, contract_id) == ("restricted", ["suspended", "suspended"])
    with session_scope(engine) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        invoice.paid_amount, invoice.paid_in_full_at = invoice.total, paid_on
        session.add(invoice)
        assert lift_nonpayment_if_paid(session, contract_id, paid_on) is True
    assert state_of(engine, contract_id) == ("active", ["running", "running"])
    with Session(engine) as session:
        block = session.exec(select(Block)).one()
        assert block.lifted_at == paid_on


def test_the_sweep_lifts_when_payment_was_recorded_without_the_hook(engine: Engine) -> None:
    contract_id, _, invoice_id = seed(engine)
    sweep(engine, DAY_31)
    with session_scope(engine) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        invoice.paid_amount, invoice.paid_in_full_at = invoice.total, noon(DAY_31)
        session.add(invoice)
    actions = sweep(engine, DAY_31 + timedelta(days=1))
    assert {a.kind for a in actions} == {"lift", "notify"} and actions[0].clause == "Art. 16(5)"
    assert state_of(engine, contract_id) == ("active", ["running", "running"])


def test_payment_between_plan_and_apply_wins(engine: Engine) -> None:
    contract_id, _, invoice_id = seed(engine)
    with Session(engine) as session:
        actions = enforcement.plan(session, DAY_31, now=noon(DAY_31))
    with session_scope(engine) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        invoice.paid_amount, invoice.paid_in_full_at = invoice.total, noon(DAY_31)
        session.add(invoice)
    result = enforcement.apply(engine, actions, DAY_31, "system:sweep", now=noon(DAY_31))
    assert result.applied == [] and {a.kind for a, _ in result.dropped} == {"restrict", "notify"}
    assert state_of(engine, contract_id) == ("active", ["running", "running"])
    with Session(engine) as session:
        dropped = session.exec(select(AuditEvent).where(AuditEvent.action == "sweep_dropped:restrict")).all()
        assert len(dropped) == 1


def test_no_auto_termination_lists_the_contract_for_confirmation(engine: Engine) -> None:
    from controlplane.terms.policy import DEFAULT_POLICY

    policy = DEFAULT_POLICY.replace(auto_terminate_nonpayment=False)
    contract_id, _, _ = seed(engine)
    for day in (DAY_31, DAY_31 + timedelta(days=6)):
        with Session(engine) as session:
            actions = enforcement.plan(session, day, now=noon(day), policy=policy)
        enforcement.apply(engine, actions, day, "system:sweep", now=noon(day), policy=policy)
    assert "eligible_for_termination" in {a.kind for a in actions}
    assert state_of(engine, contract_id)[0] == "restricted"
    with Session(engine) as session:
        termination = session.exec(select(Termination)).one()
        assert termination.confirmed_by is None and termination.started_at is None


def test_lifting_resumes_only_the_servers_the_restriction_suspended(engine: Engine) -> None:
    contract_id, server_ids, invoice_id = seed(engine)
    with session_scope(engine) as session:  # the customer had paused one server itself, before any block
        own = session.get(Server, server_ids[0])
        assert own is not None
        own.desired_state = "suspended"
        session.add(own)
    sweep(engine, DAY_31)
    assert state_of(engine, contract_id) == ("restricted", ["suspended", "suspended"])
    paid_on = noon(DUE + timedelta(days=32))
    with session_scope(engine) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        invoice.paid_amount, invoice.paid_in_full_at = invoice.total, paid_on
        session.add(invoice)
        assert lift_nonpayment_if_paid(session, contract_id, paid_on) is True
    with Session(engine) as session:
        states = {sid: session.get(Server, sid).desired_state for sid in server_ids}  # type: ignore[union-attr]
    assert states == {server_ids[0]: "suspended", server_ids[1]: "running"}


def test_a_future_day_can_be_planned_but_never_applied(engine: Engine) -> None:
    contract_id, _, _ = seed(engine)
    today = DAY_31 - timedelta(days=3)
    with Session(engine) as session:
        ahead = enforcement.plan(session, DAY_31, now=noon(today))
    assert "restrict" in {a.kind for a in ahead}  # the dry run answers "what happens on day 31?"

    with pytest.raises(InvalidInput) as refused:
        enforcement.apply(engine, ahead, DAY_31, "system:sweep", now=noon(today))

    assert refused.value.field == "as_of"
    assert state_of(engine, contract_id) == ("active", ["running", "running"])


def test_wipe_is_ordered_only_after_the_termination_notice_reached_the_relay(engine: Engine) -> None:
    contract_id, _, _ = seed(engine)
    sweep(engine, DAY_31)
    sweep(engine, DAY_31 + timedelta(days=6))
    sweep(engine, DAY_31 + timedelta(days=7))  # the sweep re-asks, but the notice is still queued
    assert state_of(engine, contract_id) == ("terminating", ["stopped", "stopped"])
    subjects = deliver_notices_now(engine, noon(DAY_31 + timedelta(days=7)))
    assert any("terminated" in s for s in subjects)
    assert state_of(engine, contract_id) == ("terminating", ["deleted", "deleted"])
    with Session(engine) as session:
        termination = session.exec(select(Termination)).one()
        email = select(Notice).where(col(Notice.dedupe_key) == f"termination:{termination.id}:notice:email")
        notice = session.exec(email).one()
        assert notice.sent_at is not None and termination.wipe_ordered_at is not None
        assert notice.sent_at <= termination.wipe_ordered_at


def test_extension_approved_after_the_restriction_lifts_it_and_it_returns_on_the_new_day(
    engine: Engine,
) -> None:
    from controlplane.services.enforcement.extensions import approve_extension

    contract_id, _, invoice_id = seed(engine)
    sweep(engine, DAY_31)
    assert state_of(engine, contract_id) == ("restricted", ["suspended", "suspended"])
    new_day = DUE + timedelta(days=45)
    with Session(engine) as session:
        approve_extension(
            session,
            invoice_id=invoice_id,
            until=new_day,
            now=noon(DAY_31 + timedelta(days=1)),
            actor="operator:kim",
        )
    assert state_of(engine, contract_id) == ("active", ["running", "running"])
    sweep(engine, new_day - timedelta(days=1))
    assert state_of(engine, contract_id)[0] == "active"
    sweep(engine, new_day)
    assert state_of(engine, contract_id) == ("restricted", ["suspended", "suspended"])


@pytest.mark.parametrize("skip_days", [0, 3])
def test_nonpayment_path_across_the_leap_day_never_acts_early(engine: Engine, skip_days: int) -> None:
    """Due 2028-01-31: the 30 days are Feb 1 .. Mar 1 (2028 has Feb 29), restriction on Mar 2; the 5 days
    after it are Mar 3 .. Mar 7, termination on Mar 8. A sweep skipped for `skip_days` acts later, never
    earlier, and terminates 6 days after the day it really restricted."""
    with session_scope(engine) as session:
        contract, _ = make_world(session)
        make_invoice(session, contract, month=date(2027, 12, 1), due=date(2028, 1, 31))
        contract_id = contract.id or 0
    sweep(engine, date(2028, 3, 1))
    assert state_of(engine, contract_id)[0] == "active"
    restricted_on = date(2028, 3, 2) + timedelta(days=skip_days)
    sweep(engine, restricted_on)
    assert state_of(engine, contract_id)[0] == "restricted"
    sweep(engine, restricted_on + timedelta(days=5))
    assert state_of(engine, contract_id)[0] == "restricted"
    sweep(engine, restricted_on + timedelta(days=6))
    assert state_of(engine, contract_id)[0] == "terminating"
    with Session(engine) as session:
        acted = session.exec(select(AuditEvent).where(AuditEvent.action == "sweep_acted:restrict")).one()
    assert acted.after["allowed_on"] == "2028-03-02"  # type: ignore[index]
    assert acted.after["acted_on"] == restricted_on.isoformat()  # type: ignore[index]
