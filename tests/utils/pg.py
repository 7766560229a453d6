"""A private PostgreSQL database per test (`dctest_<random>`), dropped afterwards even on failure."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from controlplane.db import make_engine
from controlplane.store_metadata import load_all_models

PG_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_ADMIN_URL = f"{PG_SERVER_URL}/test"


@contextmanager
def fresh_pg_database(template: str | None = None, *, prefix: str = "dctest") -> Iterator[str]:
    """Yields the URL of a new database, empty or a copy of `template`; drops it (forcing out stray
    connections) at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy_of}'))
    try:
        yield f"{PG_SERVER_URL}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def pg_template_database() -> Iterator[str]:
    """Yields the name of a database holding every table, to copy with `fresh_pg_database(template=)`.

    Copying a template costs about half of creating a database and running create_all in it. The
    template must have no open connection while it is copied, so its engine is disposed before the yield.
    """
    with fresh_pg_database(prefix="dctmpl") as url:
        engine = make_engine(url)
        load_all_models().create_all(engine)
        engine.dispose()
        yield url.rsplit("/", 1)[1]
