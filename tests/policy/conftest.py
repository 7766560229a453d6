"""Fixtures for the policy tests: a policy file with a 45-day version and a SQLite store.

The registry of policy versions is process-wide; every test here leaves it back at the built-in default.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.policy_registry import configure_policies, reset_policies
from tests.utils.policies import SLOW, write_policy_file


@pytest.fixture(autouse=True)
def default_policies_after() -> Iterator[None]:
    reset_policies()
    yield
    reset_policies()


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    return write_policy_file(tmp_path / "policy.json", [SLOW])


@pytest.fixture
def deployed(policy_file: Path) -> Path:
    """The 45-day version registered as at startup."""
    configure_policies(str(policy_file))
    return policy_file


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine
