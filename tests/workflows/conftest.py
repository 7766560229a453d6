"""The terms' workflows (issue 12) through the API: a SQLite store, a fixed clock, management prefixes."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from controlplane.config import Settings
from tests.utils.api import Api, make_api

MANAGEMENT = ["203.0.113.0/28"]


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    settings = Settings(database_url=str(sqlite_engine.url), management_prefixes=MANAGEMENT)
    return make_api(sqlite_engine, settings=settings)
