"""INSERT ... ON CONFLICT DO NOTHING on both backends: uniqueness lives in the database, reruns are no-ops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_ignoring_conflicts(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, conflict_columns: Sequence[str]
) -> None:
    """Inserts `rows`; a row that clashes with a unique constraint on `conflict_columns` is skipped."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    session.execute(statement, list(rows))
