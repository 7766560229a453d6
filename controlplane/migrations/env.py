"""Alembic environment: runs migrations on the engine handed over by controlplane.migrations."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from controlplane.db import make_engine
from controlplane.store_metadata import load_all_models

config = context.config
target_metadata = load_all_models()


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    return make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///./var/dcloud.db")


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


def run_migrations_online() -> None:
    # A connection handed over holds the migration lock (controlplane.migrations.upgrade): use it.
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _migrate(given)
        return
    with _engine().connect() as connection:
        _migrate(connection)


run_migrations_online()
