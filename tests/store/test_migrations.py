"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

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


_INSERT_LEASE = text(
    "INSERT INTO address_leases (id, pool_id, address, addr_offset, kind, server_id, leased_at)"
    " VALUES (:id, 1, :address, :offset, 'primary', :server, :at)"
)


def _lease_rows_before_unique_macs(engine: Engine) -> None:
    """Two leases as 0013_images stored them: no MAC column, the MAC derived from the lease id."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO address_pools (id, name, cidr, ip_version, reserved, network_name, host_names,"
                " next_offset, lease_count, created_at, enabled, dns_servers)"
                " VALUES (1, 'p1', '192.0.2.0/29', 4, '[]', 'dctest-net', '[]', 4, 2, :at, true, '[]')"
            ),
            {"at": at},
        )
        for lease_id, offset in [(1, 2), (258, 3)]:
            conn.execute(
                _INSERT_LEASE,
                {
                    "id": lease_id,
                    "address": f"192.0.2.{offset}",
                    "offset": offset,
                    "server": f"s{lease_id}",
                    "at": at,
                },
            )


def test_unique_macs_keeps_the_macs_existing_leases_were_shown_with(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0013_images")
    _lease_rows_before_unique_macs(empty_engine)
    upgrade(empty_engine, "0017_unique_macs")
    with empty_engine.connect() as conn:
        macs = dict(conn.execute(text("SELECT id, mac FROM address_leases ORDER BY id")).all())
    assert macs == {1: "02:dc:00:00:00:01", 258: "02:dc:00:00:01:02"}


def test_unique_macs_makes_the_database_refuse_a_repeated_mac(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0013_images")
    _lease_rows_before_unique_macs(empty_engine)
    upgrade(empty_engine, "0017_unique_macs")
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:
        conn.execute(text("UPDATE address_leases SET mac = '02:dc:00:00:00:01' WHERE id = 258"))


def test_unique_macs_downgrades_to_images(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0017_unique_macs")
    downgrade(empty_engine, "0013_images")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("address_leases")}
    assert "mac" not in columns and "address" in columns
