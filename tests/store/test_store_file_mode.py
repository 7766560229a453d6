"""The SQLite store holds personal data and token hashes: it is readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

from controlplane.db import make_engine
from controlplane.store_metadata import load_all_models


def test_the_sqlite_store_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "dcloud.db"
    engine = make_engine(f"sqlite:///{path}")
    load_all_models().create_all(engine)
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
