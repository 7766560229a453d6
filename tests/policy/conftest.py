"""Fixtures for the policy tests: a policy file with a 45-day version, a SQLite store, contract factories.

The registry of policy versions is process-wide; every test here leaves it back at the built-in default.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.models import Contract, Customer, Host, Invoice, Server
from controlplane.services.policies import configure_policies, reset_policies
from controlplane.terms.calendar import seoul_midnight

T0 = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
DEFAULT_VERSION = "2025-01"
SLOW_VERSION = "2026-07"  # restrict_after_overdue_days=45 and the other overrides below
SLOW = {
    "version": SLOW_VERSION,
    "effective_from": "2026-07-01",
    "restrict_after_overdue_days": 45,
    "max_extension_after_due_days": 75,
    "late_fee_rate_monthly": "12/1000",
    "address_quarantine_days": 60,
    "termination_notice_days": 14,
    "invoice_send_by_day": 5,
}


def noon(day: date) -> datetime:
    return seoul_midnight(day) + timedelta(hours=12)


def write_policy_file(path: Path, entries: Any) -> Path:
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def default_policies_after() -> Iterator[None]:
    reset_policies()
    yield
    reset_policies()


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    return write_policy_file(tmp_path / "policy.json", [SLOW])


@pytest.fixture
def deployed(policy_file: Path) -> Path:
    """The 45-day version registered as at startup."""
    configure_policies(str(policy_file))
    return policy_file


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine


def make_contract(session: Session, version: str, *, servers: int = 1, name: str = "예시") -> Contract:
    """A customer with one active contract pinned to `version`, its servers on one test host."""
    customer = Customer(name=name, email="ops@example.kr", address="서울", contact_name="김",
                        contact_phone="02-555-0101", created_at=T0)
    session.add(customer)
    session.flush()
    contract = Contract(customer_id=customer.id or 0, state="active", plan="std", monthly_fee=100_000,
                        desired_open_date=date(2027, 1, 1), term_start=date(2027, 1, 1),
                        term_end=date(2027, 12, 31), terms_version=version, created_at=T0, updated_at=T0)
    session.add(contract)
    host = session.get(Host, 1) or Host(name="dctest-policy-host", libvirt_uri="test:///default", vcpus=64,
                                        memory_mib=1 << 20, disk_gib=10_000, created_at=T0)
    session.add(host)
    session.flush()
    session.add_all([Server(name=f"dctest-{contract.id}-{i}", host_id=host.id or 0, contract_id=contract.id,
                            vcpus=1, memory_mib=512, disk_gib=1, created_at=T0, updated_at=T0)
                     for i in range(servers)])
    session.flush()
    return contract


def make_invoice(session: Session, contract: Contract, *, due: date, total: int = 110_000) -> Invoice:
    invoice = Invoice(contract_id=contract.id or 0, month=date(2027, 1, 1), issued_at=T0,
                      send_by=date(2027, 2, 10), due_date=due, supply_amount=total, vat_amount=0, total=total)
    session.add(invoice)
    session.flush()
    return invoice
