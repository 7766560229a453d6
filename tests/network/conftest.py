"""Fixtures for the network module: a store on SQLite or PostgreSQL, an API client, two WHOIS holders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from controlplane.clock import FixedClock
from controlplane.main import create_app
from tests.utils.factories import auth, make_contract, make_customer, make_host, make_server, make_token

T0 = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The store on both backends: the same behaviour must hold on each."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)


@pytest.fixture
def client(sqlite_engine: Engine, clock: FixedClock) -> Iterator[TestClient]:
    with TestClient(create_app(engine=sqlite_engine, clock=clock)) as test_client:
        yield test_client


@pytest.fixture
def tokens(sqlite_engine: Engine) -> dict[str, dict[str, str]]:
    """Authorization headers per role name."""
    roles = ["admin", "operator", "auditor", "billing", "agent", "disclosure"]
    return {role: auth(make_token(sqlite_engine, role)) for role in roles}


@pytest.fixture
def two_holders(sqlite_engine: Engine, clock: FixedClock) -> dict[str, str]:
    """Two customers in 192.0.2.0/24: one public, one that hid name, address and phone (Art. 24(6))."""
    from controlplane.db import session_scope
    from network.pools import PoolSpec, create_pool
    from network.service import allocate_server_address

    with session_scope(sqlite_engine) as s:
        create_pool(
            s,
            spec=PoolSpec(name="pub", cidr="192.0.2.0/24", network_name="n", gateway="192.0.2.1"),
            at=clock(),
        )
        host = make_host(s)
        public = make_customer(s)
        private = make_customer(
            s, name="홍길동", name_en="Hong Gildong", whois_hide_name=True, whois_hide_address=True,
            whois_hide_phone=True, contact_phone="010-9999-0000", address_district="경기도 성남시 분당구",
        )  # fmt: skip
        a = allocate_server_address(s, server=make_server(s, host, make_contract(s, public), "a"), at=clock())
        b = allocate_server_address(
            s, server=make_server(s, host, make_contract(s, private), "b"), at=clock()
        )
        assert a is not None and b is not None
        return {"public": a.address, "private": b.address}


@pytest.fixture
def hostile_holder(sqlite_engine: Engine, clock: FixedClock) -> str:
    """The address of a customer whose published fields all carry `HOSTILE` (tests/network/hostile.py)."""
    from tests.network.hostile import make_hostile_holder

    return make_hostile_holder(sqlite_engine, at=clock())
