"""Fixtures for billing: a store on SQLite or a private PostgreSQL database, a fixed clock, factories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session

from controlplane.clock import FixedClock
from controlplane.models import Contract, Customer

T0 = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def make_customer(session: Session, **overrides: object) -> Customer:
    fields: dict[str, object] = {
        "name": "주식회사 예시클라우드",
        "email": "billing@example.kr",
        "sms_phone": "010-1234-5678",
        "address": "서울특별시 강남구 테헤란로 123, 7층",
        "contact_name": "김담당",
        "contact_phone": "02-555-0101",
        "created_at": T0,
    }
    fields.update(overrides)
    customer = Customer(**fields)  # type: ignore[arg-type]
    session.add(customer)
    session.flush()
    return customer


def make_contract(session: Session, customer: Customer, **overrides: object) -> Contract:
    fields: dict[str, object] = {
        "customer_id": customer.id,
        "state": "active",
        "plan": "std-2",
        "monthly_fee": 100_000,
        "desired_open_date": date(2027, 1, 1),
        "term_start": date(2027, 1, 1),
        "term_end": date(2027, 12, 31),
        "terms_version": "2025-01",
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(overrides)
    contract = Contract(**fields)  # type: ignore[arg-type]
    session.add(contract)
    session.flush()
    return contract


@pytest.fixture
def customer_factory() -> Callable[..., Customer]:
    return make_customer


@pytest.fixture
def contract_factory() -> Callable[..., Contract]:
    return make_contract
