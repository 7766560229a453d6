"""Maintenance tests: the API on a private SQLite store, two hosts and two customers' servers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.services.fleet.maintenance_run import WindowReport, advance_windows
from controlplane.terms.calendar import SEOUL
from tests.utils.api import Api, make_api
from tests.utils.factories import make_contract, make_customer, make_server


def seoul(text: str) -> datetime:
    """`2027-03-20 01:00` read as Asia/Seoul."""
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL)


@dataclass
class World:
    api: Api
    hosts: dict[str, int]
    customers: dict[str, int]
    servers: dict[str, str]

    def create(self, **body: Any) -> Any:
        payload = {"kind": "regular", "action": "none", "hosts": ["dctest-hv1"], **body}
        for key in ("starts_at", "ends_at"):
            if isinstance(payload.get(key), datetime):
                payload[key] = payload[key].isoformat()
        return self.api.call("POST", "/v1/maintenance-windows", role="operator", json=payload)

    def advance(self, at: datetime) -> WindowReport:
        self.api.clock.now = at
        return advance_windows(self.api.engine, now=at)


@pytest.fixture
def world(sqlite_engine: Engine) -> World:
    api = make_api(sqlite_engine)
    api.add_host("dctest-hv1")
    api.add_host("dctest-hv2")
    with Session(sqlite_engine) as session:
        from controlplane.services.fleet.hosts import get_host

        hv1, hv2 = get_host(session, "dctest-hv1"), get_host(session, "dctest-hv2")
        alice = make_customer(session, name="Alice", email="alice@example.kr")
        bob = make_customer(session, name="Bob", email="bob@example.kr")
        on1 = make_server(session, hv1, make_contract(session, alice), name="dctest-alice-web")
        on2 = make_server(session, hv2, make_contract(session, bob), name="dctest-bob-web")
        session.commit()
        return World(
            api,
            {"dctest-hv1": hv1.id or 0, "dctest-hv2": hv2.id or 0},
            {"alice": alice.id or 0, "bob": bob.id or 0},
            {"alice": on1.id, "bob": on2.id},
        )
