"""Engine and sessions. The store (services/ and *store modules) is the only code that speaks SQL.

Who commits (one convention, checked by tests/test_transaction_convention.py):

- A use case that changes state (`create_customer`, `record_payment`, `network.disclosure.disclose_holder`
  ...) takes the caller's Session and owns its transaction: it commits once, at its end, after every
  write and its audit rows, so a request's changes land together or not at all.
- Helpers the use cases call (`record_change`, `start_termination`, `allocate_server_address`,
  `network.pools.create_pool` ...) flush when they need ids but never commit or roll back: the caller's
  transaction decides. A function needed both ways is split: the helper, and a use case that calls it and
  commits (`network.pools.create_pool` / `register_pool`).
- Batch jobs that must not let one item's failure undo the others (enforcement `apply`, invoicing chunks,
  late-fee accrual, notice delivery, renewals, terms announcements) take the Engine and open
  `session_scope(engine)` per item; the helpers they call inside still never commit.
- Entry points never commit: routes (`controlplane/api/routes`, `network/api.py`) and CLI commands take a
  Session (`SessionDep`, or `Session(engine)`) and call one use case, or pass the Engine to a batch job.
  Sessions opened only to read (metrics, WHOIS, plans, previews) just close.

Deliberate exceptions, each for a reason the function's own comment gives:
- `services.agent_state._refuse_unordered_deletions` rolls the report back, commits the refusal's audit
  rows and then raises 409: a refused deletion record must stay on the audit trail (Art. 20(8)).
- `services.servers.change_desired_state` rolls back and re-reads when its compare-and-swap on
  `generation` loses to a concurrent change, then commits on the attempt that wins.
- A use case whose insert hits a unique constraint rolls back to leave the failed flush and then raises
  (or re-reads the winner): `hosts.register_host`, `payments.record_payment`, the `_insert` helper of
  `terminations.request_termination` (its only caller).
- Savepoints (`session.begin_nested()`) are no commit: they may be used anywhere, as the unique race of
  a wipe record in `agent_state` and the rolled-back dry run of `invoicing.preview_invoice` do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine


def make_engine(url: str, **kwargs: Any) -> Engine:
    """SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL a pre-pinged pool."""
    if url.startswith("sqlite"):
        _, sep, path = url.partition(":///")
        if sep and path and path != ":memory:":  # `sqlite://` and `:memory:` have no file
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # The store holds customers' personal data and token hashes: owner-only, like the token files
            # (SQLite gives its -wal and -shm files the database file's mode).
            Path(path).touch(mode=0o600, exist_ok=True)
            os.chmod(path, 0o600)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    # Bound parameters carry customers' data: errors and logs show the statement, never the values.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
