"""Leader election: exactly one control plane runs the jobs.

On PostgreSQL the leader holds a session advisory lock on a dedicated connection (not from the pool, so
pool recycling can never drop it). The lock dies with the session, so a crashed leader frees it at once,
and `is_leader()` re-checks it before every job. On SQLite the leader holds an exclusive `flock` on a
file beside the database: the kernel frees it when the process dies, so a second `dcloud serve` on the same
file takes over at its next check. An in-memory SQLite store has one process, and it leads.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import psycopg
from sqlalchemy import Engine

log = logging.getLogger(__name__)

# Arbitrary but fixed: every dcloud control plane must contend for the same key ("dcloud" in ASCII).
LEADER_LOCK_KEY = 0x6463_6C6F_7564

_HOLDS_LOCK = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
  AND ((classid::bigint << 32) | objid::bigint) = %s
"""


class LeaderElector(Protocol):
    def is_leader(self) -> bool: ...

    def close(self) -> None: ...


class SingleProcessLeader:
    """SQLite: the only process is the leader."""

    def is_leader(self) -> bool:
        return True

    def close(self) -> None:
        return None


class FileLockLeader:
    """SQLite: whoever holds the exclusive lock on `path` leads; a dead holder's lock goes with it."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        with self._lock:
            if self._fd is not None:
                return True
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._fd = fd
            return True

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None


class PgAdvisoryLeader:
    def __init__(self, conninfo: str, *, key: int = LEADER_LOCK_KEY) -> None:
        self._conninfo = conninfo
        self._key = key
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        """Checks a held lock is still ours, else tries to take it; a connection error means 'not leader'."""
        with self._lock:
            try:
                conn = self._connection()
                held = conn.execute(_HOLDS_LOCK, (self._key,)).fetchone()
                if held is not None and held[0] == 1:
                    return True
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
                return bool(row and row[0])
            except psycopg.Error as exc:
                log.warning("leader check failed, not leading: %s", exc)
                self._drop()
                return False

    def close(self) -> None:
        """Steps down: unlocks explicitly, because a closed session's locks are freed only when its
        backend has exited, which PostgreSQL does after the client has already moved on."""
        with self._lock:
            if self._conn is not None and not self._conn.closed:
                with contextlib.suppress(psycopg.Error):
                    self._conn.execute("SELECT pg_advisory_unlock_all()")
            self._drop()

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


def conninfo_for(engine: Engine) -> str:
    """The engine's URL as libpq understands it (without SQLAlchemy's `+psycopg` driver suffix)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def elector_for(engine: Engine) -> LeaderElector:
    if engine.dialect.name == "postgresql":
        return PgAdvisoryLeader(conninfo_for(engine))
    database = engine.url.database
    if database and database != ":memory:":
        return FileLockLeader(f"{database}.scheduler-lock")
    return SingleProcessLeader()
