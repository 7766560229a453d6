"""Fixtures for the network module: a store on SQLite or a private PostgreSQL database, and factories."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.api.deps import hash_token
from controlplane.clock import FixedClock
from controlplane.main import create_app
from controlplane.models import ApiToken, Contract, Customer, Host, Server
from controlplane.terms.policy import DEFAULT_POLICY

T0 = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The store on both backends: the same behaviour must hold on each."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)


def make_host(session: Session, name: str = "hv1") -> Host:
    host = Host(
        name=name, libvirt_uri="qemu:///system", vcpus=64, memory_mib=262144, disk_gib=4096, created_at=T0
    )
    session.add(host)
    session.flush()
    return host


def make_customer(session: Session, **overrides: object) -> Customer:
    fields: dict[str, object] = {
        "name": "주식회사 예시클라우드",
        "name_en": "Example Cloud Co., Ltd.",
        "email": "ops@example.kr",
        "address": "서울특별시 강남구 테헤란로 123, 7층",
        "address_en": "7F, 123 Teheran-ro, Gangnam-gu, Seoul",
        "address_district": "서울특별시 강남구",
        "zip_code": "06133",
        "contact_name": "김담당",
        "contact_phone": "+82-2-555-0100",
        "contact_email": "netadmin@example.kr",
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
        "plan": "standard",
        "monthly_fee": 50000,
        "desired_open_date": date(2027, 3, 1),
        "terms_version": DEFAULT_POLICY.version,
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(overrides)
    contract = Contract(**fields)  # type: ignore[arg-type]
    session.add(contract)
    session.flush()
    return contract


def make_server(session: Session, host: Host, contract: Contract | None = None, name: str = "web") -> Server:
    assert host.id is not None
    server = Server(
        name=name,
        host_id=host.id,
        contract_id=contract.id if contract else None,
        vcpus=1,
        memory_mib=512,
        disk_gib=10,
        created_at=T0,
        updated_at=T0,
    )
    session.add(server)
    session.flush()
    return server


def make_token(engine: Engine, role: str, name: str | None = None) -> str:
    """A bearer token of the role, stored hashed as the API expects; returns the plaintext."""
    plaintext = f"dctest-{role}-{uuid.uuid4().hex}"
    with Session(engine) as session:
        session.add(
            ApiToken(name=name or f"test-{role}", role=role, token_hash=hash_token(plaintext), created_at=T0)
        )
        session.commit()
    return plaintext


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
