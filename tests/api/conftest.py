"""API tests run against create_app on a private SQLite file with a FixedClock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.db import make_engine
from tests.utils.api import Api, make_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    engine = make_engine(f"sqlite:///{tmp_path}/api.db")
    yield make_api(engine)
    engine.dispose()
