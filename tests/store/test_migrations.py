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


def _fee_period_before_plan_change_sizes(engine: Engine) -> None:
    """A contract with one fee period as 0017_unique_macs stored it: no size columns."""
    at = datetime(2027, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (id, kind, name, email, address, contact_name, contact_phone,"
                " whois_hide_name, whois_hide_address, whois_hide_phone, is_minor, has_delinquency_record,"
                " created_at) VALUES (1, 'organisation', 'c', 'c@example.kr', 'Seoul', 'k', '02', false,"
                " false, false, false, false, :at)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO contracts (id, customer_id, state, plan, monthly_fee, discount, billing_cycle,"
                " desired_open_date, terms_version, extra_addresses_allowed, created_at, updated_at,"
                " annual_prepay_discount) VALUES (1, 1, 'active', 'std-2', 100000, 0, 'monthly',"
                " '2027-01-01', '2025-01', 0, :at, :at, 0)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO fee_periods (id, contract_id, effective_from, monthly_fee, discount)"
                " VALUES (1, 1, '2027-01-01', 100000, 0)"
            )
        )


_SIZE_COLUMNS = {"plan", "server_vcpus", "server_memory_mib", "server_disk_gib", "server_size_settled_at"}


def test_plan_change_sizes_leaves_existing_fee_periods_with_no_size_waiting(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0017_unique_macs")
    _fee_period_before_plan_change_sizes(empty_engine)
    upgrade(empty_engine, "0018_plan_change_sizes")
    with empty_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT monthly_fee, plan, server_vcpus, server_memory_mib, server_disk_gib,"
                " server_size_settled_at FROM fee_periods"
            )
        ).one()
    assert tuple(row) == (100000, "std-2", None, None, None, None)  # the only period: the contract's plan


def _more_fee_periods(engine: Engine, *rows: tuple[int, int, str]) -> None:
    """(id, contract, effective_from) periods added beside the first one; contract 2 is like contract 1."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contracts (id, customer_id, state, plan, monthly_fee, discount, billing_cycle,"
                " desired_open_date, terms_version, extra_addresses_allowed, created_at, updated_at,"
                " annual_prepay_discount) SELECT 2, customer_id, state, 'std-4', monthly_fee, discount,"
                " billing_cycle, desired_open_date, terms_version, extra_addresses_allowed, created_at,"
                " updated_at, annual_prepay_discount FROM contracts WHERE id = 1"
            )
        )
        conn.execute(text("UPDATE contracts SET plan = 'std-3' WHERE id = 1"))
        for period_id, contract_id, first in rows:
            conn.execute(
                text(
                    "INSERT INTO fee_periods (id, contract_id, effective_from, monthly_fee, discount)"
                    " VALUES (:id, :contract, :first, 60000, 0)"
                ),
                {"id": period_id, "contract": contract_id, "first": first},
            )


def _plans(engine: Engine) -> dict[int, str | None]:
    with engine.connect() as conn:
        return {int(i): p for i, p in conn.execute(text("SELECT id, plan FROM fee_periods ORDER BY id"))}


def test_plan_change_sizes_names_only_each_contracts_latest_period(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0017_unique_macs")
    _fee_period_before_plan_change_sizes(empty_engine)
    _more_fee_periods(empty_engine, (2, 1, "2027-03-01"), (3, 1, "2027-05-01"), (4, 2, "2027-01-01"))
    upgrade(empty_engine, "0018_plan_change_sizes")
    # Earlier periods keep NULL: which plan they had was never stored.
    assert _plans(empty_engine) == {1: None, 2: None, 3: "std-3", 4: "std-4"}


def test_plan_change_sizes_names_no_period_of_a_contract_changed_out_of_date_order(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0017_unique_macs")
    _fee_period_before_plan_change_sizes(empty_engine)
    # Contract 1's change from 1 March was recorded after the one from 1 May: the contract's plan is
    # the March change's, not the latest period's.
    _more_fee_periods(empty_engine, (2, 1, "2027-05-01"), (3, 1, "2027-03-01"), (4, 2, "2027-01-01"))
    upgrade(empty_engine, "0018_plan_change_sizes")
    assert _plans(empty_engine) == {1: None, 2: None, 3: None, 4: "std-4"}


def test_plan_change_sizes_downgrades_to_unique_macs_keeping_the_fee_periods(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0017_unique_macs")
    _fee_period_before_plan_change_sizes(empty_engine)
    upgrade(empty_engine, "0018_plan_change_sizes")
    downgrade(empty_engine, "0017_unique_macs")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("fee_periods")}
    assert not columns & _SIZE_COLUMNS and "monthly_fee" in columns
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT monthly_fee FROM fee_periods")).scalar_one() == 100000
