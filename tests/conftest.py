"""Fixtures every test folder shares: private stores on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.db import make_engine
from controlplane.store_metadata import load_all_models
from tests.utils.pg import fresh_pg_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database dctest_<random> on 127.0.0.1:5432, dropped afterwards even when the test fails."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    load_all_models().create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    load_all_models().create_all(engine)
    yield engine
    engine.dispose()
