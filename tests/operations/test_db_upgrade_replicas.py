"""`dcloud db upgrade` started by several replicas at once (each unit's ExecStartPre) on one PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.db import make_engine
from controlplane.migrations import current_revision, head_revision

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def _upgrade_process(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DCLOUD_DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", "db", "upgrade"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_three_replicas_upgrading_an_empty_store_at_once_all_succeed(pg_url: str) -> None:
    replicas = [_upgrade_process(pg_url) for _ in range(3)]
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in replicas]
    engine: Engine = make_engine(pg_url)
    try:
        head = head_revision()
        for code, out, err in outcomes:
            assert code == 0, err
            assert f"database at revision {head}" in out
        assert current_revision(engine) == head
    finally:
        engine.dispose()
