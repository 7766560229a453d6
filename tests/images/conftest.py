"""Image API tests: the app on a private SQLite store whose image and import directories are tmp dirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.config import Settings
from tests.utils.api import Api, make_api


@pytest.fixture
def import_dir(tmp_path: Path) -> Path:
    path = tmp_path / "import"
    path.mkdir()
    return path


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    return tmp_path / "images"


@pytest.fixture
def fetch_deadline_s() -> float:
    """The import's whole-download deadline; a test parametrizes it to change it."""
    default: float = Settings.model_fields["image_fetch_deadline_s"].default
    return default


@pytest.fixture
def api(sqlite_engine: Engine, import_dir: Path, image_dir: Path, fetch_deadline_s: float) -> Api:
    settings = Settings(
        database_url=str(sqlite_engine.url),
        image_dir=str(image_dir),
        image_import_dirs=[str(import_dir)],
        image_fetch_timeout_s=1.0,
        image_fetch_deadline_s=fetch_deadline_s,
        heartbeat_interval_s=30,
        heartbeat_missed_limit=2,
    )
    return make_api(sqlite_engine, settings=settings)
