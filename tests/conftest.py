"""Fixtures every test folder shares: private stores on SQLite and PostgreSQL.

A store with every table is built once per session (create_all runs ~60 DDL statements, each a commit)
and each test gets a copy of it: a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.db import make_engine
from controlplane.store_metadata import load_all_models
from tests.utils.pg import fresh_pg_database, pg_template_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh empty database dctest_<random> on 127.0.0.1:5432, dropped afterwards even on failure."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """The name of a PostgreSQL database with every table, built once per session."""
    with pg_template_database() as name:
        yield name


@pytest.fixture
def pg_store_url(pg_template: str) -> Iterator[str]:
    """A private PostgreSQL database with every table (a copy of the template), dropped afterwards."""
    with fresh_pg_database(template=pg_template) as url:
        yield url


@pytest.fixture
def pg_engine(pg_store_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_store_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every table, built once per session; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    load_all_models().create_all(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not path.with_name("store.db-wal").exists()
    return path


@pytest.fixture
def sqlite_store_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A private SQLite store with every table: a copy of the template in the test's tmp_path."""
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_engine(sqlite_store_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_store_url)
    yield engine
    engine.dispose()
