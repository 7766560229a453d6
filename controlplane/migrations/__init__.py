"""Alembic migrations, configured in code so they ship inside the package (no alembic.ini needed).

`upgrade(engine)` is what `dcloud db upgrade`, `dcloud up` and the tests call. Several control-plane
replicas may run it at the same moment (each unit's ExecStartPre): on PostgreSQL it holds a session
advisory lock while it migrates, so the second waits, then finds the store at head and does nothing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent
# pg_advisory_lock key of schema migrations ("dcloud" + 0xDB); distinct from the leader and pool locks.
MIGRATION_LOCK_KEY = 0x6463_6C6F_7564_00DB


def alembic_config(engine: Engine) -> Config:
    """A Config whose env.py runs on `engine` (passed through attributes, not a URL string)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), revision)  # SQLite: one file, one writer at a time
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        conn.commit()  # a session lock: it outlives this transaction, and the migration's own
        try:
            config = alembic_config(engine)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
        finally:
            conn.rollback()  # whatever a failed migration left open, so the unlock can run
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            conn.commit()


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision this build ships (what `/readyz` expects the store to be at)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
