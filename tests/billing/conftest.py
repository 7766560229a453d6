"""Fixtures for billing: a fixed clock, and factories for customers who are notified by e-mail and SMS."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from controlplane.clock import FixedClock
from controlplane.models import Contract, Customer
from tests.utils.factories import make_contract, make_customer

T0 = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def customer_factory() -> Callable[..., Customer]:
    """Billing's customers also registered a phone, so each notice goes out by e-mail and by SMS."""
    return functools.partial(make_customer, sms_phone="010-1234-5678")


@pytest.fixture
def contract_factory() -> Callable[..., Contract]:
    return make_contract
