"""IPAM allocation cost must not grow with pool use: every address of a /16 (65,534) on PostgreSQL.

One transaction per allocation, as the control plane makes them (row lock on the pool, cursor,
insert under the partial unique index). Reported: the last 1,000 vs the first 1,000 of a fresh pool
measured interleaved with them, so machine load cancels out (target: last <= 2x first), then
1,000 re-allocations from the free list after quarantine, beside an in-memory bitmap allocator
as the floor. synchronous_commit is off in the bench database, which is its own
dcbench_<random>, dropped afterwards.
`python -m bench --only ipam`, or `python bench/ipam.py`; DCLOUD_BENCH_IPAM_PREFIX=20 for a quick run.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

if __package__ in (None, ""):  # `python bench/ipam.py`: make the repo importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import Engine

from bench.pg import bench_database
from bench.result import Result
from controlplane.db import session_scope
from network.pools import PoolSpec, create_pool
from network.service import Holder, allocate_in_pool, release_server_addresses

PREFIX = int(os.environ.get("DCLOUD_BENCH_IPAM_PREFIX", "16"))
WINDOW = 1000
TARGET_LAST_VS_FIRST = 2.0
T0 = datetime(2027, 1, 1, tzinfo=UTC)


def _allocate_one(engine: Engine, pool_id: int, n: int, at: datetime) -> None:
    with session_scope(engine) as session:
        lease = allocate_in_pool(session, pool_id=pool_id, holder=Holder(f"b{n}", None, None), at=at)
        assert lease is not None, f"pool ran dry at allocation {n}"


def _timed(engine: Engine, pool_id: int, start: int, count: int, at: datetime) -> float:
    """Median seconds per allocation: robust to the scheduler stalls of a shared 2-core machine."""
    costs = []
    for n in range(start, start + count):
        began = time.perf_counter()
        _allocate_one(engine, pool_id, n, at)
        costs.append(time.perf_counter() - began)
    return statistics.median(costs)


def _bitmap(size: int) -> tuple[float, float]:
    """The floor: a bytearray bitmap with a next-free hint; mean seconds per op, first and last WINDOW."""
    bits, hint, marks = bytearray(size), 0, []
    began = time.perf_counter()
    for n in range(size):
        hint = bits.find(0, hint)
        bits[hint] = 1
        if n + 1 in (WINDOW, size - WINDOW, size):
            marks.append(time.perf_counter())
    return (marks[0] - began) / WINDOW, (marks[2] - marks[1]) / WINDOW


def _new_pool(engine: Engine, name: str, cidr: str) -> int:
    with session_scope(engine) as session:
        pool = create_pool(session, spec=PoolSpec(name=name, cidr=cidr, network_name="dcbench"), at=T0)
        assert pool.id is not None
        return pool.id


def _interleaved(engine: Engine, full: tuple[int, int], fresh: int) -> tuple[float, float]:
    """The full pool's last WINDOW and a fresh pool's first WINDOW, alternating one by one, so both
    see the same machine load: their ratio is the growth with pool use and nothing else."""
    full_pool, start = full
    costs: tuple[list[float], list[float]] = ([], [])
    for i in range(WINDOW):
        for costs_of, pool_id, n in ((costs[0], full_pool, start + i), (costs[1], fresh, 10_000_000 + i)):
            began = time.perf_counter()
            _allocate_one(engine, pool_id, n, T0)
            costs_of.append(time.perf_counter() - began)
    return statistics.median(costs[0]), statistics.median(costs[1])


def _fill(engine: Engine) -> dict[str, float]:
    """Median seconds per allocation in each window, and the pool size."""
    pool_id, size = _new_pool(engine, "bench", f"10.0.0.0/{PREFIX}"), 2 ** (32 - PREFIX) - 2
    control = _new_pool(engine, "control", "172.16.0.0/22")
    first = _timed(engine, pool_id, 0, WINDOW, T0)
    _timed(engine, pool_id, WINDOW, size - 2 * WINDOW, T0)
    last, fresh = _interleaved(engine, (pool_id, size - WINDOW), control)
    with session_scope(engine) as session:
        for n in range(0, size, size // WINDOW)[:WINDOW]:
            release_server_addresses(session, server_id=f"b{n}", at=T0)
    reuse = _timed(engine, pool_id, size, WINDOW, T0 + timedelta(days=31))
    return {"first": first, "last": last, "fresh": fresh, "reuse": reuse, "size": size}


def run() -> list[Result]:
    with bench_database(synchronous_commit=False) as engine:
        m = _fill(engine)
    size = int(m["size"])
    bm_first, bm_last = _bitmap(size)
    ms = 1000.0
    return [
        Result(
            name=f"ipam pg: last {WINDOW} of {size} (median)",
            value=m["last"] * ms,
            unit="ms/op",
            baseline=m["fresh"] * ms,
            baseline_name=f"first {WINDOW} of a fresh pool, interleaved one by one with the last {WINDOW}",
            target=TARGET_LAST_VS_FIRST,
            note=f"chronological first {WINDOW} of this pool: {m['first'] * ms:.3f} ms/op (load-sensitive)",
        ),
        Result(
            name=f"ipam pg: {WINDOW} from free list (median)",
            value=m["reuse"] * ms,
            unit="ms/op",
            baseline=m["fresh"] * ms,
            baseline_name=f"first {WINDOW} of a fresh pool (never-used cursor)",
            note="after releasing 1,000 spread addresses and passing quarantine",
        ),
        Result(
            name=f"ipam bitmap (in memory): last {WINDOW}",
            value=bm_last * ms * 1000,
            unit="us/op",
            baseline=bm_first * ms * 1000,
            baseline_name=f"bitmap first {WINDOW}; the floor a DB allocator is compared to",
            note=f"pg first {WINDOW}: {m['fresh'] * ms:.3f} ms/op vs bitmap {bm_first * ms * 1000:.3f} us/op",
        ),
    ]


if __name__ == "__main__":
    from bench.result import HEADER, format_row

    print(HEADER)
    for result in run():
        print(format_row(result))
