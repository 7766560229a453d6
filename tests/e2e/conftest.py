"""The live stack fixture: real API + real agent + real libvirtd, torn down even when a test fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import LiveStack, start_stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LiveStack]:
    live = start_stack(tmp_path)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def managedsave_stack(tmp_path: Path) -> Iterator[LiveStack]:
    live = start_stack(tmp_path, suspend_mode="managedsave")
    try:
        yield live
    finally:
        live.stop()
