"""Is this replica able to serve: what a load balancer's readiness probe (`/readyz`) asks.

Alive (`/healthz`) needs nothing: the process answered. Ready needs the store to answer and to be at the
schema revision this build ships, so a replica started before (or without) `dcloud db upgrade` takes no
traffic, and neither does one whose database went away.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from controlplane.migrations import head_revision


@dataclass(frozen=True)
class Readiness:
    ready: bool
    revision: str | None
    expected_revision: str | None
    reason: str | None = None


def store_readiness(engine: Engine) -> Readiness:
    """One short connection: `SELECT 1` and the stored Alembic revision against this build's head."""
    expected = head_revision()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            revision = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc  # the driver's error when there is one
        reason = f"store unreachable: {type(cause).__name__}"
        return Readiness(ready=False, revision=None, expected_revision=expected, reason=reason)
    if revision != expected:
        reason = f"store at revision {revision}, this build needs {expected}: run `dcloud db upgrade`"
        return Readiness(ready=False, revision=revision, expected_revision=expected, reason=reason)
    return Readiness(ready=True, revision=revision, expected_revision=expected)
