"""Leader election on PostgreSQL: one leader at a time, and the other takes over when it goes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from controlplane.db import make_engine
from scheduler.leader import (
    FileLockLeader,
    PgAdvisoryLeader,
    SingleProcessLeader,
    conninfo_for,
    elector_for,
)

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
        # The leader's own connection dies (as if its host crashed): the lock is freed by PostgreSQL once
        # the backend has exited. pg_terminate_backend only signals it unless given a timeout to wait
        # for the exit (PostgreSQL 14+); without one, CI once asked before the lock was gone.
        admin.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    assert second.is_leader() is True
    assert first.is_leader() is False


def test_sqlite_file_store_leads_by_a_file_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    first, second = elector_for(engine), elector_for(engine)
    try:
        assert isinstance(first, FileLockLeader)
        assert (first.is_leader(), second.is_leader()) == (True, False)
        first.close()  # as when its process dies: the kernel frees the lock
        assert second.is_leader() is True
        assert first.is_leader() is False
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_in_memory_sqlite_process_is_its_own_leader() -> None:
    engine = make_engine("sqlite://")
    assert isinstance(elector_for(engine), SingleProcessLeader)
    assert elector_for(engine).is_leader()
