"""Rows for store-backed tests: customer, contract, host, server, invoice, API token, and a whole world.

Each factory adds one row with plausible defaults, flushes it (so it has its id) and returns it; keyword
overrides replace any field. The defaults describe one customer on the standard terms for 2027.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from controlplane.models import ApiToken, Contract, Customer, Host, Invoice, Server
from controlplane.services.tokens import hash_token
from controlplane.terms.calendar import seoul_midnight
from controlplane.terms.policy import DEFAULT_POLICY

T0 = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)  # the rows' creation time: the day the 2027 term starts
Row = TypeVar("Row", bound=SQLModel)


def noon(day: date) -> datetime:
    """Midday in Seoul on `day`: when the sweep and the services run in these tests."""
    return seoul_midnight(day) + timedelta(hours=12)


def make_customer(session: Session, **overrides: object) -> Customer:
    """A company with every WHOIS field filled in and nothing hidden; e-mail only (no SMS phone)."""
    fields: dict[str, object] = {
        "name": "주식회사 예시클라우드",
        "name_en": "Example Cloud Co., Ltd.",
        "email": "billing@example.kr",
        "address": "서울특별시 강남구 테헤란로 123, 7층",
        "address_en": "7F, 123 Teheran-ro, Gangnam-gu, Seoul",
        "address_district": "서울특별시 강남구",
        "zip_code": "06133",
        "contact_name": "김담당",
        "contact_phone": "+82-2-555-0100",
        "contact_email": "netadmin@example.kr",
        "created_at": T0,
    }
    return _add(session, Customer(**{**fields, **overrides}))  # type: ignore[arg-type]


def make_contract(session: Session, customer: Customer, **overrides: object) -> Contract:
    """An active monthly contract for calendar 2027 on the default terms version."""
    fields: dict[str, object] = {
        "customer_id": customer.id,
        "state": "active",
        "plan": "std-2",
        "monthly_fee": 100_000,
        "desired_open_date": date(2027, 1, 1),
        "term_start": date(2027, 1, 1),
        "term_end": date(2027, 12, 31),
        "terms_version": DEFAULT_POLICY.version,
        "created_at": T0,
        "updated_at": T0,
    }
    return _add(session, Contract(**{**fields, **overrides}))  # type: ignore[arg-type]


def make_host(session: Session, name: str = "hv1", **overrides: object) -> Host:
    fields: dict[str, object] = {
        "name": name,
        "libvirt_uri": "qemu:///system",
        "vcpus": 64,
        "memory_mib": 262144,
        "disk_gib": 4096,
        "created_at": T0,
    }
    return _add(session, Host(**{**fields, **overrides}))  # type: ignore[arg-type]


def make_server(
    session: Session, host: Host, contract: Contract | None = None, name: str = "web", **overrides: object
) -> Server:
    """A server placed on `host`, under `contract` or none (a plain server may be deleted at will)."""
    assert host.id is not None
    fields: dict[str, object] = {
        "name": name,
        "host_id": host.id,
        "contract_id": contract.id if contract else None,
        "vcpus": 1,
        "memory_mib": 512,
        "disk_gib": 10,
        "created_at": T0,
        "updated_at": T0,
    }
    return _add(session, Server(**{**fields, **overrides}))  # type: ignore[arg-type]


def make_invoice(
    session: Session,
    contract: Contract,
    *,
    month: date = date(2027, 1, 1),
    due: date = date(2027, 2, 28),
    total: int = 110_000,
    paid: int = 0,
) -> Invoice:
    """The invoice for `month`, VAT (1/11 of the total) included, `paid` of it paid."""
    supply = total * 10 // 11
    invoice = Invoice(
        contract_id=contract.id or 0,
        month=month,
        issued_at=T0,
        send_by=date(2027, 2, 10),
        due_date=due,
        supply_amount=supply,
        vat_amount=total - supply,
        total=total,
        paid_amount=paid,
    )
    return _add(session, invoice)


def make_world(session: Session, *, servers: int = 2, **contract: object) -> tuple[Contract, list[Server]]:
    """A customer with one contract (`contract` overrides its fields) and its servers, all on host 1."""
    made = make_contract(session, make_customer(session), **contract)
    host = session.get(Host, 1) or make_host(session, "dctest-host", libvirt_uri="test:///default")
    names = [f"dctest-{made.id}-{i}" for i in range(servers)]
    return made, [make_server(session, host, made, name, disk_gib=1) for name in names]


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


def _add(session: Session, row: Row) -> Row:
    session.add(row)
    session.flush()
    return row
