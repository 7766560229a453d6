"""Process entry points for the concurrency tests (importable by spawned children)."""

from __future__ import annotations

from datetime import UTC, datetime

from controlplane.db import make_engine, session_scope
from network.service import Holder, PoolExhausted, allocate_in_pool


def allocate_many(url: str, pool_id: int, worker: int, count: int) -> tuple[list[str], int]:
    """`count` allocations, one transaction each, as one control-plane replica would make them."""
    engine = make_engine(url)
    got: list[str] = []
    exhausted = 0
    try:
        for i in range(count):
            holder = Holder(server_id=f"w{worker}-{i}", contract_id=None, customer_id=None)
            try:
                with session_scope(engine) as session:
                    lease = allocate_in_pool(session, pool_id=pool_id, holder=holder, at=datetime.now(UTC))
                    if lease is None:
                        raise PoolExhausted("pool exhausted")
                    got.append(lease.address)
            except PoolExhausted:
                exhausted += 1
    finally:
        engine.dispose()
    return got, exhausted
