"""Fixtures for the enforcement sweep: a SQLite store with every table, and a real SMTP relay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.utils.relay import Relay, running_relay


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as running:
        yield running
