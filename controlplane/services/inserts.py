"""Bulk inserts with `ON CONFLICT DO NOTHING` on both backends: uniqueness lives in the database, reruns
are no-ops.

On PostgreSQL the rows go over as one array per column (`INSERT ... SELECT * FROM unnest(...)`): one short
statement per batch instead of a multi-row VALUES list whose client-side parsing dominated large runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel class (typed, for the bulk paths)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def insert_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict_columns: Sequence[str] | None = None,
    returning: Sequence[str] = (),
) -> list[Any]:
    """Inserts `rows` (all with the same keys); a row clashing on `conflict_columns` is skipped.

    Returns the `returning` columns of the rows actually inserted (empty when none are asked for).
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _insert_unnest(session, table, rows, conflict_columns, returning)
    statement: Any = sqlite.insert(table)
    if conflict_columns:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))
    if returning:
        statement = statement.returning(*(table.c[name] for name in returning))
        return list(session.execute(statement, list(rows)).all())
    session.execute(statement, list(rows))
    return []


def _insert_unnest(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str] | None,
    returning: Sequence[str],
) -> list[Any]:
    names = list(rows[0])
    casts = ", ".join(f"CAST(:p{i} AS {_array_type(table, name)})" for i, name in enumerate(names))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({casts})"
    if conflict_columns:
        sql += f" ON CONFLICT ({', '.join(conflict_columns)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    params = {f"p{i}": [row[name] for row in rows] for i, name in enumerate(names)}
    result = session.execute(text(sql), params)
    return list(result.all()) if returning else []


def _array_type(table: Table, name: str) -> str:
    column_type = table.c[name].type
    impl = getattr(column_type, "impl", column_type)  # a TypeDecorator's storage type
    return f"{impl.compile(dialect=_PG)}[]"
