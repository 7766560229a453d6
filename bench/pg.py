"""A private PostgreSQL database for one benchmark (`dcbench_<random>`), with every table, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

from controlplane.db import make_engine
from controlplane.store_metadata import load_all_models

PG_URL = os.environ.get("DCLOUD_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def bench_database(*, synchronous_commit: bool = True) -> Iterator[Engine]:
    """`synchronous_commit=False` when the question is growth, not this disk's fsync latency."""
    name = f"dcbench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        if not synchronous_commit:
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    engine = make_engine(PG_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        load_all_models().create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
