"""Scheduler tests: a private PostgreSQL database per test for leader election."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.utils.pg import fresh_pg_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url
