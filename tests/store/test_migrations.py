"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from controlplane.migrations import alembic_config, current_revision, downgrade, upgrade
from controlplane.store_metadata import load_all_models

FOUNDATION_TABLES = {
    "hosts",
    "orphan_domains",
    "servers",
    "deletion_records",
    "api_tokens",
    "audit_events",
    "customers",
    "contracts",
}


def test_upgrade_head_matches_the_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, load_all_models())
    assert diff == []


def test_upgrade_head_reaches_the_last_revision(migrated_engine: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config(migrated_engine)).get_current_head()
    assert current_revision(migrated_engine) == head


def test_upgrade_is_idempotent(migrated_engine: Engine) -> None:
    upgrade(migrated_engine)
    assert set(inspect(migrated_engine).get_table_names()) >= FOUNDATION_TABLES


def test_foundation_revision_creates_the_foundation_tables(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0001_foundation")
    assert current_revision(empty_engine) == "0001_foundation"
    assert set(inspect(empty_engine).get_table_names()) >= FOUNDATION_TABLES
    downgrade(empty_engine, "base")
    assert not FOUNDATION_TABLES & set(inspect(empty_engine).get_table_names())
