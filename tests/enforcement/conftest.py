"""Fixtures for the enforcement sweep: a SQLite store with every table, and factories for the facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.models import Contract, Customer, Host, Invoice, Server
from controlplane.terms.calendar import seoul_midnight
from tests.utils.relay import Relay, running_relay

T0 = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def noon(day: date) -> datetime:
    """Midday in Seoul on `day`: the sweep's 'now' in these tests."""
    return seoul_midnight(day) + timedelta(hours=12)


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine


def make_world(session: Session, *, servers: int = 2, monthly_fee: int = 100_000,
               state: str = "active") -> tuple[Contract, list[Server]]:
    """A customer with one active contract whose servers run on one host."""
    customer = Customer(name="주식회사 예시", email="ops@example.kr", address="서울", contact_name="김",
                        contact_phone="02-555-0101", created_at=T0)
    session.add(customer)
    session.flush()
    contract = Contract(customer_id=customer.id or 0, state=state, plan="std-2", monthly_fee=monthly_fee,
                        desired_open_date=date(2027, 1, 1), term_start=date(2027, 1, 1),
                        term_end=date(2027, 12, 31), terms_version="2025-01", created_at=T0, updated_at=T0)
    session.add(contract)
    host = session.get(Host, 1) or Host(name="dctest-host", libvirt_uri="test:///default", vcpus=64,
                                        memory_mib=1 << 20, disk_gib=10_000, created_at=T0)
    session.add(host)
    session.flush()
    made = [Server(name=f"dctest-{i}", host_id=host.id or 0, contract_id=contract.id, vcpus=1,
                   memory_mib=512, disk_gib=1, created_at=T0, updated_at=T0) for i in range(servers)]
    session.add_all(made)
    session.flush()
    return contract, made


def make_invoice(session: Session, contract: Contract, *, month: date = date(2027, 1, 1),
                 due: date = date(2027, 2, 28), total: int = 110_000, paid: int = 0) -> Invoice:
    invoice = Invoice(contract_id=contract.id or 0, month=month, issued_at=T0, send_by=date(2027, 2, 10),
                      due_date=due, supply_amount=total * 10 // 11, vat_amount=total - total * 10 // 11,
                      total=total, paid_amount=paid)
    session.add(invoice)
    session.flush()
    return invoice


def terminate_by_two_operators(engine: Engine, contract_id: int, *, kind: str, reason: str,
                               now: datetime) -> int:
    """Billing proposes an ex-officio or insolvency termination, a different operator confirms it."""
    from controlplane.api.schemas.enforcement import TerminationCreate
    from controlplane.services import terminations as termination_service

    with Session(engine) as session:
        proposed = termination_service.request_termination(
            session, contract_id=contract_id, now=now, actor="billing:park", token_id=101,
            request=TerminationCreate(kind=kind, reason=reason))  # type: ignore[arg-type]
        termination_id = proposed.id or 0
    with Session(engine) as session:
        confirmer = termination_service.Confirmer(actor="operator:lee", role="operator", token_id=202)
        termination_service.confirm_termination(session, termination_id=termination_id, now=now,
                                                confirmer=confirmer)
    return termination_id


def deliver_notices(engine: Engine, relay: Relay, now: datetime) -> None:
    """Runs the outbox once against a real SMTP relay, as the notice-delivery job does."""
    from controlplane.clock import FixedClock
    from controlplane.notify import LoggingSmsProvider
    from controlplane.services.notices import deliver_due_notices

    deliver_due_notices(engine, relay.sender(), LoggingSmsProvider(), FixedClock(now))


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as running:
        yield running
