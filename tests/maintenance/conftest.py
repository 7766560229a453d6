"""Maintenance tests: the API on a private SQLite store, two hosts and two customers' servers."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.services.fleet.hosts import get_host
from tests.utils.api import make_api
from tests.utils.factories import make_contract, make_customer, make_server
from tests.utils.maintenance import World


@pytest.fixture
def world(sqlite_engine: Engine) -> World:
    api = make_api(sqlite_engine)
    api.add_host("dctest-hv1")
    api.add_host("dctest-hv2")
    with Session(sqlite_engine) as session:
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
