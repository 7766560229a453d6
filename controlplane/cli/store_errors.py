"""One line, naming the problem, for the store mistakes an operator makes: no store where the command
looked (a wrong directory: the default SQLite path is relative), a store not upgraded to this build, a
database that cannot be reached. Never a traceback.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError, SQLAlchemyError

UPGRADE_HINT = "run `dcloud db upgrade`"


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (absolute), or None for another database or an in-memory one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file the URL names when it does not exist yet (a command would create it empty)."""
    path = sqlite_file(url)
    return path if path is not None and not path.exists() else None


def describe(exc: SQLAlchemyError, url: str, *, missing: Path | None) -> str:
    where = _safe(url)
    if missing is not None:
        relative = "" if Path(make_url(url).database or "").is_absolute() else f", relative to {os.getcwd()}"
        return (
            f"no store at {missing} ({where}{relative}): run this from the deployment's directory, set "
            f"DCLOUD_DATABASE_URL, or create the store with `dcloud db upgrade`"
        )
    if _no_table(exc):
        return f"the store at {where} is not at this build's schema: {UPGRADE_HINT}"
    if isinstance(exc, OperationalError):
        return f"cannot reach the store at {where}: {_first_line(exc)}"
    return f"store error at {where}: {type(exc).__name__}: {_first_line(exc)}"


def remove_created_file(path: Path) -> None:
    """Undo the empty store a failed command created where none was (and its WAL files)."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        candidate.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # only if the command created the directory and left it empty
        path.parent.rmdir()


def _no_table(exc: SQLAlchemyError) -> bool:
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    text = str(orig or exc).lower()
    return (
        "no such table" in text
        or "no such column" in text
        or (isinstance(exc, ProgrammingError) and "does not exist" in text)
    )


def _first_line(exc: SQLAlchemyError) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    return (str(orig or exc).strip().splitlines() or [""])[0]


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DCLOUD_DATABASE_URL"
