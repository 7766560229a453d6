"""Leader election on PostgreSQL: one leader at a time, and the other takes over when it goes."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from controlplane.db import make_engine
from scheduler.leader import PgAdvisoryLeader, SingleProcessLeader, conninfo_for, elector_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def conninfo(pg_url: str) -> str:
    engine = make_engine(pg_url)
    try:
        return conninfo_for(engine)
    finally:
        engine.dispose()


@pytest.fixture
def electors(conninfo: str) -> Iterator[tuple[PgAdvisoryLeader, PgAdvisoryLeader]]:
    first, second = PgAdvisoryLeader(conninfo), PgAdvisoryLeader(conninfo)
    yield first, second
    first.close()
    second.close()


def test_exactly_one_of_two_electors_leads(electors: tuple[PgAdvisoryLeader, PgAdvisoryLeader]) -> None:
    first, second = electors
    assert first.is_leader() is True
    assert second.is_leader() is False
    # Leadership is stable across re-checks.
    assert (first.is_leader(), second.is_leader()) == (True, False)


def test_the_other_takes_over_when_the_leader_closes(
    electors: tuple[PgAdvisoryLeader, PgAdvisoryLeader],
) -> None:
    first, second = electors
    assert first.is_leader() and not second.is_leader()
    first.close()
    assert second.is_leader() is True
    assert first.is_leader() is False


def test_a_killed_leader_session_loses_leadership(
    conninfo: str, electors: tuple[PgAdvisoryLeader, PgAdvisoryLeader]
) -> None:
    first, second = electors
    assert first.is_leader()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        # The leader's own connection dies (as if its host crashed): the lock is freed by PostgreSQL.
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    assert second.is_leader() is True
    assert first.is_leader() is False


def test_sqlite_process_is_its_own_leader(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    assert isinstance(elector_for(engine), SingleProcessLeader)
    assert elector_for(engine).is_leader()
