"""Allocation under concurrency on PostgreSQL: separate processes, one pool, no double holders, none lost."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from multiprocessing.pool import Pool

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from controlplane.clock import FixedClock
from controlplane.db import session_scope
from network.models import AddressLease
from network.pools import PoolSpec, create_pool
from tests.network.workers import allocate_many

pytestmark = pytest.mark.postgres


PROCESSES = 8


@pytest.fixture(scope="module")
def workers() -> Iterator[Pool]:
    """Eight separate processes (own interpreters, own connections), started once for the module."""
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        yield pool


def _run(workers: Pool, url: str, pool_id: int, each: int) -> list[tuple[list[str], int]]:
    return workers.starmap(allocate_many, [(url, pool_id, w, each) for w in range(PROCESSES)], chunksize=1)


def _pool(engine: Engine, clock: FixedClock, cidr: str) -> int:
    with session_scope(engine) as s:
        pool = create_pool(s, spec=PoolSpec(name="conc", cidr=cidr, network_name="dctest-net"), at=clock())
        assert pool.id is not None
        return pool.id


def _active_addresses(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.exec(select(AddressLease.address).where(col(AddressLease.released_at).is_(None))).all())


def test_8_processes_x_200_allocations_no_address_twice_none_lost(
    pg_engine: Engine, pg_store_url: str, clock: FixedClock, workers: Pool
) -> None:
    pool_id = _pool(pg_engine, clock, "10.64.0.0/21")  # 2046 usable
    results = _run(workers, pg_store_url, pool_id, each=200)
    handed_out = [a for got, _ in results for a in got]
    assert [len(got) for got, _ in results] == [200] * 8
    assert len(handed_out) == len(set(handed_out)) == 1600
    stored = _active_addresses(pg_engine)
    assert Counter(stored) == Counter(handed_out)
    # Never-used first, in order: exactly the first 1600 usable addresses, no gaps.
    offsets = sorted(int(a.split(".")[2]) * 256 + int(a.split(".")[3]) for a in stored)
    assert offsets == list(range(1, 1601))


def test_contended_exhaustion_hands_out_every_address_exactly_once(
    pg_engine: Engine, pg_store_url: str, clock: FixedClock, workers: Pool
) -> None:
    pool_id = _pool(pg_engine, clock, "10.65.0.0/24")  # 254 usable, 320 asked for
    results = _run(workers, pg_store_url, pool_id, each=40)
    handed_out = [a for got, _ in results for a in got]
    assert len(handed_out) == len(set(handed_out)) == 254
    assert sum(exhausted for _, exhausted in results) == 320 - 254
    with Session(pg_engine) as s:
        assert s.exec(select(func.count()).select_from(AddressLease)).one() == 254
