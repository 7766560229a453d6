"""The fuzz group's plain tests use the API harness on a private SQLite store."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.utils.api import Api, make_api


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    return make_api(sqlite_engine)
