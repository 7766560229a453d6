"""Operator blocks (Art. 16), partial SMTP restriction, cure and confirmation (Art. 21(4)), extension
(Art. 33(1)), terminations (Art. 20) and their completion (Art. 20(8)), renewal (Art. 18)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.db import session_scope
from controlplane.errors import InvalidInput
from controlplane.models import (
    AddOn,
    Block,
    Contract,
    DeletionRecord,
    Host,
    Invoice,
    Notice,
    Server,
    Termination,
)
from controlplane.models.enforcement import termination_status
from controlplane.schemas.enforcement import BlockCreate, TerminationCreate
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.contracts.renewal import renew_contracts
from controlplane.services.enforcement import blocks as block_service
from controlplane.services.enforcement import sweep as enforcement
from controlplane.services.enforcement import terminations as termination_service
from controlplane.services.enforcement.extensions import approve_extension
from controlplane.services.fleet.agent_state import desired_state_for_host
from controlplane.terms.calendar import YearMonth
from tests.enforcement.test_nonpayment import DAY_31, DUE, state_of, sweep
from tests.utils.factories import make_invoice, make_world, noon
from tests.utils.relay import Relay
from tests.utils.terminations import deliver_notices, deliver_notices_now, terminate_by_two_operators
from tests.utils.workflows import refused_fee_increase

NOW = noon(date(2027, 3, 2))


def spam_block(**overrides: object) -> BlockCreate:
    fields: dict[str, object] = {
        "kind": "spam",
        "scope": "smtp",
        "item": 4,
        "reason": "KISA spam report",
        "notice": "after",
        "notice_after_reason": "ongoing spam run",
    }
    fields.update(overrides)
    return BlockCreate(**fields)  # type: ignore[arg-type]


def world(engine: Engine, *, unpaid: bool = False) -> tuple[int, list[str]]:
    """A contract with two servers; `unpaid` adds an invoice overdue since 2027-02-28."""
    with session_scope(engine) as session:
        contract, servers = make_world(session)
        if unpaid:
            make_invoice(session, contract)
        return contract.id or 0, [s.id for s in servers]


def test_spam_smtp_block_keeps_servers_running_with_outbound_smtp_blocked(engine: Engine) -> None:
    contract_id, server_ids = world(engine)
    with Session(engine) as session:
        block = block_service.create_operator_block(
            session, contract_id=contract_id, request=spam_block(), now=NOW, actor="operator:kim"
        )
        assert (block.clause, block.scope) == ("Art. 16(4)-4", "smtp")
    assert state_of(engine, contract_id) == ("restricted", ["running", "running"])
    with Session(engine) as session:
        desired = desired_state_for_host(session, _host(session), NOW)
        assert {s.id: s.block_outbound_smtp for s in desired.servers} == dict.fromkeys(server_ids, True)
        assert {n.kind for n in session.exec(select(Notice)).all()} == {"restriction_after"}
    # Paying does not lift it: only an operator does (Art. 16(5)).
    with Session(engine) as session:
        assert block_service.lift_nonpayment_if_paid(session, contract_id, NOW) is False
        block_service.lift_operator_block(
            session, block_id=block.id or 0, now=NOW, actor="operator:kim", reason="customer fixed the relay"
        )
        desired = desired_state_for_host(session, _host(session), NOW)
        assert not any(s.block_outbound_smtp for s in desired.servers)
    assert state_of(engine, contract_id) == ("active", ["running", "running"])


def _host(session: Session) -> Host:
    return session.exec(select(Host)).one()


def test_operator_block_rules(engine: Engine) -> None:
    contract_id, _ = world(engine)
    with Session(engine) as session:
        with pytest.raises(InvalidInput) as err:
            block_service.create_operator_block(
                session, contract_id=contract_id, request=spam_block(item=None), now=NOW, actor="op"
            )
        assert err.value.field == "item"
        with pytest.raises(InvalidInput) as err:
            block_service.create_operator_block(
                session,
                contract_id=contract_id,
                now=NOW,
                actor="op",
                request=spam_block(planned_end=NOW + timedelta(days=40)),
            )
        assert err.value.field == "planned_end"
        with pytest.raises(InvalidInput) as err:
            block_service.create_operator_block(
                session, contract_id=contract_id, now=NOW, actor="op", request=spam_block(notice="before")
            )
        assert err.value.field == "starts_at"


def test_full_block_announced_before_starts_on_its_day(engine: Engine) -> None:
    contract_id, _ = world(engine)
    starts = NOW + timedelta(days=3)
    with Session(engine) as session:
        block_service.create_operator_block(
            session,
            contract_id=contract_id,
            now=NOW,
            actor="op",
            request=spam_block(
                kind="security",
                scope="full",
                item=9,
                notice="before",
                starts_at=starts,
                notice_after_reason=None,
            ),
        )
    assert state_of(engine, contract_id) == ("active", ["running", "running"])
    sweep(engine, date(2027, 3, 4))
    assert state_of(engine, contract_id) == ("active", ["running", "running"])
    sweep(engine, date(2027, 3, 5))
    assert state_of(engine, contract_id) == ("restricted", ["suspended", "suspended"])


def test_full_payment_lifts_only_the_nonpayment_block(engine: Engine) -> None:
    with session_scope(engine) as session:
        contract, _ = make_world(session)
        contract_id = contract.id or 0
        invoice = make_invoice(session, contract)
    sweep(engine, DAY_31)
    with Session(engine) as session:
        block_service.create_operator_block(
            session,
            contract_id=contract_id,
            now=noon(DAY_31),
            actor="op",
            request=spam_block(kind="security", scope="full", item=9),
        )
    with session_scope(engine) as session:
        row = session.get(type(invoice), invoice.id)
        assert row is not None
        row.paid_amount, row.paid_in_full_at = row.total, noon(DAY_31)
        session.add(row)
        assert block_service.lift_nonpayment_if_paid(session, contract_id, noon(DAY_31)) is True
    assert state_of(engine, contract_id) == ("restricted", ["suspended", "suspended"])
    with Session(engine) as session:
        active = {b.kind for b in session.exec(select(Block).where(Block.lifted_at == None)).all()}  # noqa: E711
        assert active == {"security"}


def test_uncured_restriction_is_eligible_for_termination_and_needs_confirmation(engine: Engine) -> None:
    contract_id, _ = world(engine)
    with Session(engine) as session:
        block_service.create_operator_block(
            session, contract_id=contract_id, request=spam_block(), now=NOW, actor="op"
        )
    # Restriction ends 2027-04-02, cure deadline 2027-05-02: eligible from 2027-05-03.
    assert all(a.kind != "eligible_for_termination" for a in sweep(engine, date(2027, 5, 2)))
    actions = sweep(engine, date(2027, 5, 3))
    eligible = [a for a in actions if a.kind == "eligible_for_termination"]
    assert eligible and eligible[0].clause == "Art. 21(4)" and not eligible[0].automatic
    assert state_of(engine, contract_id) == ("restricted", ["running", "running"])
    sweep(engine, date(2027, 5, 10))
    assert state_of(engine, contract_id)[0] == "restricted"  # never without a confirmation
    with Session(engine) as session:
        termination = session.exec(select(Termination)).one()
        confirmer = termination_service.Confirmer(actor="operator:lee", role="operator", token_id=7)
        termination_service.confirm_termination(
            session, termination_id=termination.id or 0, now=noon(date(2027, 5, 10)), confirmer=confirmer
        )
    # Service ends at once; the wipe order waits for the termination notice to reach the relay.
    assert state_of(engine, contract_id) == ("terminating", ["stopped", "stopped"])


def test_termination_completes_only_when_every_deletion_record_is_in(engine: Engine, relay: Relay) -> None:
    contract_id, server_ids = world(engine, unpaid=True)
    with session_scope(engine) as session:
        session.add(
            AddOn(
                contract_id=contract_id, name="backup", billing="monthly", fee=0, started_on=date(2027, 1, 1)
            )
        )
    terminate_by_two_operators(engine, contract_id, kind="insolvency", reason="bankruptcy declared", now=NOW)
    deliver_notices(engine, relay, NOW)
    assert state_of(engine, contract_id) == ("terminating", ["deleted", "deleted"])
    with Session(engine) as session:
        assert session.exec(select(AddOn)).one().removed_at is not None
    _wipe(engine, server_ids[:1])
    assert [a.kind for a in sweep(engine, date(2027, 3, 3))] == []
    assert state_of(engine, contract_id)[0] == "terminating"
    _wipe(engine, server_ids[1:])
    assert [a.kind for a in sweep(engine, date(2027, 3, 3))] == ["complete_termination"]
    assert state_of(engine, contract_id)[0] == "terminated"
    with Session(engine) as session:
        termination = session.exec(select(Termination)).one()
        assert termination.ended_at is not None and termination.completed_at is None  # still unpaid


def test_termination_record_completes_only_once_the_final_statement_is_paid(
    engine: Engine, relay: Relay
) -> None:
    contract_id, server_ids = world(engine, unpaid=True)  # 110,000 due 2027-02-28, unpaid
    terminate_by_two_operators(engine, contract_id, kind="insolvency", reason="bankruptcy declared", now=NOW)
    deliver_notices(engine, relay, NOW)
    _wipe(engine, server_ids)
    sweep(engine, date(2027, 3, 3))
    assert _status(engine) == "awaiting_settlement"
    _pay_everything(engine)
    sweep(engine, date(2027, 3, 4))
    assert _status(engine) == "awaiting_settlement"  # March's final statement is not issued yet
    march = YearMonth(2027, 3)
    generate_invoices(engine, month=march, as_of=date(2027, 4, 1), now=noon(date(2027, 4, 1)))
    sweep(engine, date(2027, 4, 1))
    assert _status(engine) == "awaiting_settlement"  # issued (2 days of service, late fees), unpaid
    _pay_everything(engine)
    sweep(engine, date(2027, 4, 2))
    assert _status(engine) == "completed"


def _status(engine: Engine) -> str:
    with Session(engine) as session:
        return termination_status(session.exec(select(Termination)).one()).value


def _pay_everything(engine: Engine) -> None:
    with session_scope(engine) as session:
        for invoice in session.exec(select(Invoice)).all():
            invoice.paid_amount, invoice.paid_in_full_at = invoice.total, NOW
            session.add(invoice)


def _wipe(engine: Engine, server_ids: list[str]) -> None:
    """What the agent's deletion report does: a record, and the server leaves the desired list."""
    at = datetime(2027, 3, 3, tzinfo=UTC)
    with session_scope(engine) as session:
        for sid in server_ids:
            server = session.get(Server, sid)
            assert server is not None
            server.deleted_at = at
            session.add(
                DeletionRecord(
                    server_id=sid,
                    host_id=server.host_id,
                    domain_name=f"dcloud-{sid}",
                    volumes=[],
                    bytes_overwritten=1,
                    method="zero",
                    started_at=at,
                    finished_at=at,
                    received_at=at,
                )
            )


def test_customer_termination_needs_7_days_notice_and_runs_after_its_last_day(engine: Engine) -> None:
    contract_id, _ = world(engine)
    with Session(engine) as session:
        with pytest.raises(InvalidInput) as err:
            termination_service.request_termination(
                session,
                contract_id=contract_id,
                now=NOW,
                actor="billing:park",
                request=TerminationCreate(
                    kind="customer_request", reason="moving", effective_on=date(2027, 3, 8)
                ),
            )
        assert err.value.field == "effective_on"
        termination = termination_service.request_termination(
            session,
            contract_id=contract_id,
            now=NOW,
            actor="billing:park",
            request=TerminationCreate(
                kind="customer_request", reason="moving", effective_on=date(2027, 3, 9)
            ),
        )
        # 60% x 100,000 x (22/31 + 9 months) = 582,580 KRW (Art. 32(3))
        assert termination.penalty == 582_580
    sweep(engine, date(2027, 3, 9))
    assert state_of(engine, contract_id)[0] == "active"
    sweep(engine, date(2027, 3, 10))
    assert state_of(engine, contract_id) == ("terminating", ["stopped", "stopped"])


def test_refused_fee_increase_means_no_penalty(engine: Engine) -> None:
    contract_id, _ = world(engine)
    refused_fee_increase(engine, contract_id)
    with Session(engine) as session:
        termination = termination_service.request_termination(
            session,
            contract_id=contract_id,
            now=NOW,
            actor="billing:park",
            request=TerminationCreate(
                kind="customer_request",
                reason="fee increase refused",
                effective_on=date(2027, 3, 31),
                refused_fee_increase=True,
            ),
        )
        assert termination.penalty == 0


def test_extension_moves_restriction_up_to_due_plus_61(engine: Engine) -> None:
    with session_scope(engine) as session:
        contract, _ = make_world(session)
        contract_id = contract.id or 0
        invoice_id = make_invoice(session, contract).id or 0
    with Session(engine) as session:
        with pytest.raises(InvalidInput) as err:
            approve_extension(
                session, invoice_id=invoice_id, until=DUE + timedelta(days=62), now=NOW, actor="operator:kim"
            )
        assert err.value.field == "extension_until"
        approve_extension(
            session, invoice_id=invoice_id, until=DUE + timedelta(days=61), now=NOW, actor="operator:kim"
        )
    sweep(engine, DAY_31)
    assert state_of(engine, contract_id)[0] == "active"
    sweep(engine, DUE + timedelta(days=60))
    assert state_of(engine, contract_id)[0] == "active"
    sweep(engine, DUE + timedelta(days=61))
    assert state_of(engine, contract_id)[0] == "restricted"


def test_renewal_at_term_end_unless_termination_requested(engine: Engine) -> None:
    with session_scope(engine) as session:
        renewing, _ = make_world(session, servers=0)
        leaving, _ = make_world(session, servers=0)
        ids = (renewing.id or 0, leaving.id or 0)
        session.add(
            Termination(
                contract_id=ids[1],
                kind="customer_request",
                clause="Art. 20(2)",
                reason="x",
                requested_at=NOW,
                effective_on=date(2028, 1, 10),
                decided_by="b",
                confirmed_by="b",
            )
        )
    assert renew_contracts(engine, as_of=date(2027, 12, 31), now=NOW).renewed == []
    report = renew_contracts(engine, as_of=date(2028, 1, 1), now=NOW)
    assert (report.renewed, report.ended) == ([ids[0]], [ids[1]])
    assert renew_contracts(engine, as_of=date(2028, 1, 1), now=NOW).renewed == []
    with Session(engine) as session:
        contract = session.get(Contract, ids[0])
        assert contract is not None
        assert (contract.term_start, contract.term_end) == (date(2028, 1, 1), date(2028, 12, 31))


def test_sweep_plan_lists_every_action_with_clause_reason_and_deadline(engine: Engine) -> None:
    with session_scope(engine) as session:
        contract, _ = make_world(session)
        make_invoice(session, contract)
    with Session(engine) as session:
        actions = enforcement.plan(session, DAY_31, now=noon(DAY_31))
    for record in (a.to_json() for a in actions):
        assert record["clause"].startswith("Art. ") and record["reason"]
        assert record["deadline"] == "2027-03-31"
        assert "2027-03-01 … 2027-03-30" in record["counting"]


def test_completed_termination_releases_every_address(engine: Engine) -> None:
    from network.pools import PoolSpec, create_pool
    from network.service import active_leases, allocate_server_address

    contract_id, server_ids = world(engine)
    with session_scope(engine) as session:
        spec = PoolSpec(name="dctest-pool", cidr="192.0.2.0/24", network_name="dctest-net")
        create_pool(session, spec=spec, at=NOW)
        for sid in server_ids:
            server = session.get(Server, sid)
            assert server is not None and allocate_server_address(session, server=server, at=NOW) is not None
    with session_scope(engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        make_invoice(session, contract)
    terminate_by_two_operators(
        engine, contract_id, kind="ex_officio", reason="fraudulent application", now=NOW
    )
    deliver_notices_now(engine, NOW)
    with Session(engine) as session:
        assert all(active_leases(session, sid) for sid in server_ids)  # held until the disks are wiped
    _wipe(engine, server_ids)
    sweep(engine, date(2027, 3, 3))
    with Session(engine) as session:
        assert not any(active_leases(session, sid) for sid in server_ids)
    assert state_of(engine, contract_id)[0] == "terminated"
