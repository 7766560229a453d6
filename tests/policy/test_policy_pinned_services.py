"""Billing, payments, terminations and address quarantine use the contract's pinned version's numbers;
an unknown pinned version is refused (409 naming terms_version) or counted as failed, never guessed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.db import session_scope
from controlplane.errors import Conflict, InvalidInput
from controlplane.models import AuditEvent, Invoice, LateFee, Payment, Server
from controlplane.schemas.enforcement import TerminationCreate
from controlplane.schemas.payments import PaymentCreate
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.billing.payments import record_payment
from controlplane.services.enforcement.terminations import request_termination
from controlplane.terms.calendar import YearMonth, seoul_midnight
from network.pools import PoolSpec, create_pool
from network.service import PoolExhausted, allocate_server_address, release_server_addresses
from tests.utils.factories import make_invoice, make_world
from tests.utils.policies import DEFAULT_VERSION, SLOW_VERSION

DUE = date(2027, 2, 28)


def _pay(engine: Engine, version: str, on: date) -> list[LateFee]:
    with session_scope(engine) as session:
        contract, _ = make_world(session, servers=1, terms_version=version)
        make_invoice(session, contract, due=DUE, total=100_000)
        customer_id = contract.customer_id
    with Session(engine, expire_on_commit=False) as session:
        paid = PaymentCreate(customer_id=customer_id, amount=100_000)
        now = seoul_midnight(on).replace(hour=10)
        outcome = record_payment(session, now=now, actor="test", data=paid, key=f"k-{version}")
    return outcome.late_fees


def test_late_fee_uses_the_pinned_rate(engine: Engine, deployed: Path) -> None:
    (default_fee,) = _pay(engine, DEFAULT_VERSION, DUE + timedelta(days=31))
    (slow_fee,) = _pay(engine, SLOW_VERSION, DUE + timedelta(days=31))
    assert (default_fee.overdue_days, default_fee.amount) == (31, 1_528)  # 15/1000 a month (Art. 34)
    assert (slow_fee.overdue_days, slow_fee.amount) == (31, 1_223)  # 100,000 x 12/1000 x 12 x 31/365


def test_late_payment_on_an_unknown_version_is_refused_and_nothing_is_recorded(
    engine: Engine, deployed: Path
) -> None:
    with pytest.raises(Conflict) as raised:
        _pay(engine, "1999-01", DUE + timedelta(days=31))
    assert raised.value.field == "terms_version"
    with Session(engine) as session:
        assert session.exec(select(Payment)).all() == []
        assert all(i.paid_amount == 0 for i in session.exec(select(Invoice)).all())


def test_payment_on_time_needs_no_policy_number_so_an_unknown_version_still_pays(
    engine: Engine, deployed: Path
) -> None:
    assert _pay(engine, "1999-01", DUE) == []
    with Session(engine) as session:
        invoice = session.exec(select(Invoice)).one()
    assert invoice.paid_amount == 100_000 and invoice.paid_in_full_at is not None


def test_invoices_are_dated_by_the_pinned_version_and_an_unknown_one_fails_alone(
    engine: Engine, deployed: Path
) -> None:
    with session_scope(engine) as session:
        versions = (DEFAULT_VERSION, SLOW_VERSION, "1999-01")
        ids = {v: make_world(session, servers=1, terms_version=v)[0].id for v in versions}
    now = datetime(2027, 4, 1, 3, tzinfo=UTC)
    report = generate_invoices(engine, month=YearMonth(2027, 3), as_of=date(2027, 4, 1), now=now)
    assert (report.created, report.failed) == (2, 1)
    with Session(engine) as session:
        send_by = {i.contract_id: i.send_by for i in session.exec(select(Invoice)).all()}
        failed = session.exec(select(AuditEvent).where(AuditEvent.action == "invoice_failed")).one()
    assert send_by == {ids[DEFAULT_VERSION]: date(2027, 4, 10), ids[SLOW_VERSION]: date(2027, 4, 5)}
    assert failed.entity_id == str(ids["1999-01"]) and "1999-01" in str(failed.after)


def _request(engine: Engine, version: str, notice_days: int) -> None:
    now = datetime(2027, 3, 2, 3, tzinfo=UTC)
    with session_scope(engine) as session:
        contract_id = make_world(session, servers=1, terms_version=version)[0].id or 0
    with Session(engine, expire_on_commit=False) as session:
        request = TerminationCreate(
            kind="customer_request",
            reason="moving",
            effective_on=date(2027, 3, 2) + timedelta(days=notice_days),
        )
        request_termination(session, contract_id=contract_id, now=now, actor="desk", request=request)


def test_termination_notice_is_the_pinned_versions(engine: Engine, deployed: Path) -> None:
    _request(engine, DEFAULT_VERSION, 7)
    with pytest.raises(InvalidInput, match="14 days notice") as raised:
        _request(engine, SLOW_VERSION, 7)
    assert raised.value.field == "effective_on"
    _request(engine, SLOW_VERSION, 14)
    with pytest.raises(Conflict) as unknown:
        _request(engine, "1999-01", 30)
    assert unknown.value.field == "terms_version"


def test_released_address_rests_by_its_releasing_contracts_version(engine: Engine, deployed: Path) -> None:
    t0 = datetime(2027, 3, 1, 3, tzinfo=UTC)
    with session_scope(engine) as s:
        create_pool(
            s,
            spec=PoolSpec(
                name="dctest-p", cidr="192.0.2.0/29", network_name="dctest-net", gateway="192.0.2.1"
            ),
            at=t0,
        )
        slow, _ = make_world(s, servers=1, terms_version=SLOW_VERSION)
        default, _ = make_world(s, servers=4, terms_version=DEFAULT_VERSION)
        servers = list(
            s.exec(
                select(Server)
                .where(Server.contract_id.in_([slow.id, default.id]))  # type: ignore[union-attr]
                .order_by(Server.contract_id)
            ).all()
        )
        addresses = [allocate_server_address(s, server=srv, at=t0).address for srv in servers]  # type: ignore[union-attr]
        release_server_addresses(s, server_id=servers[0].id, at=t0)  # the 60-day contract's, first in line
        release_server_addresses(s, server_id=servers[1].id, at=t0)  # a 30-day contract's

    def newcomer(name: str, at: datetime) -> str:
        with session_scope(engine) as s:
            srv = Server(
                name=name,
                host_id=1,
                contract_id=default.id,
                vcpus=1,
                memory_mib=512,
                disk_gib=1,
                created_at=t0,
                updated_at=t0,
            )
            s.add(srv)
            s.flush()
            lease = allocate_server_address(s, server=srv, at=at)
            assert lease is not None
            return lease.address

    day_30 = t0 + timedelta(days=30)
    assert newcomer("dctest-n1", day_30) == addresses[1]
    with pytest.raises(PoolExhausted):
        newcomer("dctest-n2", day_30 + timedelta(days=29))
    assert newcomer("dctest-n3", t0 + timedelta(days=60)) == addresses[0]
