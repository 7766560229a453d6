"""Schemathesis against the app's own /openapi.json, as every role (issue 11, evidence 1).

For every operation and every role: valid requests (ids drawn from the declared ranges and ids of
seeded rows) and invalid ones. No answer may be a 5xx, and every answer must be documented: its status
code listed for the operation, its content type and body matching the schema.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from controlplane.clock import FixedClock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.main import create_app
from controlplane.models.auth import Role
from tests.fuzz.harness import fuzz_role, load_schema
from tests.fuzz.world import RealIds, seed_world
from tests.utils.api import T0, make_api
from tests.utils.pg import fresh_pg_database

# The roles schemathesis runs as: a new role is one more line here.
ROLES: tuple[str, ...] = (
    Role.ADMIN,
    Role.OPERATOR,
    Role.BILLING,
    Role.AUDITOR,
    Role.AGENT,
    Role.LAW_ENFORCEMENT,
    Role.CUSTOMER,
)

# Bounded by DCLOUD_FUZZ_EXAMPLES (tests/fuzz/harness.py); a role's whole run takes a minute or two.
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(1200)]


@dataclass(frozen=True)
class Seeded:
    """A seeded store to copy per operation (a file or a template database), its ids, a token per role."""

    store: Any
    tokens: dict[str, str]
    real: RealIds


def _seed(engine: Engine) -> tuple[dict[str, str], RealIds]:
    api = make_api(engine)
    real = seed_world(api)
    tokens = {role: api.tokens[role] for role in ROLES if role not in (Role.AGENT, Role.CUSTOMER)}
    tokens[Role.AGENT] = api.tokens["agent:hv1"]
    # A tenant bound to the first seeded customer: its own ids and the other customer's both get fuzzed.
    bound = {"name": "fuzz-tenant", "role": "customer", "customer_id": real.values["customer_id"][0]}
    issued = api.call("POST", "/v1/tokens", role="admin", json=bound)
    assert issued.status_code == 201, issued.text
    tokens[Role.CUSTOMER] = issued.json()["token"]
    return tokens, real


def _app(engine: Engine) -> FastAPI:
    settings = Settings(database_url=str(engine.url), heartbeat_interval_s=30, heartbeat_missed_limit=2)
    app = create_app(settings=settings, engine=engine, clock=FixedClock(T0))
    app.state.draining.set()  # a desired-state watch answers at once instead of long-polling
    return app


@pytest.fixture(scope="module")
def sqlite_world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    path = tmp_path_factory.mktemp("fuzz") / "seeded.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    tokens, real = _seed(engine)
    engine.dispose()
    return Seeded(path, tokens, real)


@contextmanager
def _sqlite_copy(seeded: Path, tmp_path: Path) -> Iterator[FastAPI]:
    path = tmp_path / "store.db"
    shutil.copyfile(seeded, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield _app(engine)
    finally:
        engine.dispose()
        path.unlink()


@pytest.mark.parametrize("role", ROLES)
def test_every_answer_as_this_role_is_documented_and_none_is_a_5xx(
    role: str, sqlite_world: Seeded, tmp_path: Path
) -> None:
    with _sqlite_copy(sqlite_world.store, tmp_path) as app:
        schema = load_schema(app)
    copy = functools.partial(_sqlite_copy, sqlite_world.store, tmp_path)
    report = fuzz_role(schema, copy, sqlite_world.tokens[role], sqlite_world.real)

    assert report.requests > 0
    assert not report.findings, report.summary()


@pytest.fixture(scope="module")
def pg_world(pg_template: str) -> Iterator[Seeded]:
    """A seeded PostgreSQL database, used as the template of one copy per operation."""
    with fresh_pg_database(template=pg_template, prefix="dcfuzz") as url:
        engine = make_engine(url)
        tokens, real = _seed(engine)
        engine.dispose()
        yield Seeded(url.rsplit("/", 1)[1], tokens, real)


@contextmanager
def _pg_copy(template: str) -> Iterator[FastAPI]:
    with fresh_pg_database(template=template) as url:
        engine = make_engine(url)
        try:
            yield _app(engine)
        finally:
            engine.dispose()


@pytest.mark.postgres
def test_every_answer_as_admin_on_postgresql_is_documented_and_none_is_a_5xx(pg_world: Seeded) -> None:
    """PostgreSQL refuses what SQLite stores (NUL bytes, integers past 2^31-1): admin reaches every route."""
    with _pg_copy(pg_world.store) as app:
        schema = load_schema(app)
    copy = functools.partial(_pg_copy, pg_world.store)
    report = fuzz_role(schema, copy, pg_world.tokens[Role.ADMIN], pg_world.real)

    assert report.requests > 0
    assert not report.findings, report.summary()
