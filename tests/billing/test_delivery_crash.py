"""A control plane SIGKILLed between deciding and notifying (issue 11, faults).

Each run is a real `dcloud jobs run ...` process on a PostgreSQL store, sending through a real SMTP relay
on loopback (tests/utils/relay.py) that counts what it received. DCLOUD_TEST_CRASH_POINT (test-only,
unset in every deployment, scheduler/faults.py) makes the job kill itself at one point:

- right after the sweep committed a contract's decision, before any notice left: the notice waits in
  the outbox and goes out exactly once after the restart;
- right after a notice was claimed, before it was sent: it goes out exactly once, after the claim's lease;
- right after the relay accepted it, before `sent_at` was recorded: it goes out twice (at least once),
  both copies carrying one Message-ID, the documented duplicate a mailbox can recognise.

Jobs act for a day given by `--as-of` at the current time of day; a retry after a claim is run two days
on, so the claim's lease (minutes) has passed whatever the time of day when the test runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.config import CrashPoint
from controlplane.db import session_scope
from controlplane.models import Block, Contract, Notice
from controlplane.notify.email import message_id
from tests.enforcement.test_nonpayment import DAY_31
from tests.utils.factories import make_invoice, make_world
from tests.utils.relay import Relay, running_relay

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SENDER = "noreply@dcloud.test"
KILLED = -signal.SIGKILL


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as running:
        yield running


def _job(store_url: str, relay: Relay, name: str, day: date, crash: CrashPoint | None = None) -> int:
    """One `dcloud jobs run NAME --as-of DAY` process; its exit code (negative: killed by that signal)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DCLOUD_DATABASE_URL": store_url,
        "DCLOUD_SMTP_HOST": "127.0.0.1",
        "DCLOUD_SMTP_PORT": str(relay.port),
        "DCLOUD_SMTP_FROM": SENDER,
    }
    env.pop("DCLOUD_TEST_CRASH_POINT", None)
    if crash is not None:
        env["DCLOUD_TEST_CRASH_POINT"] = crash.value
    command = [sys.executable, "-m", "controlplane.cli", "jobs", "run", name, "--as-of", day.isoformat()]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    if crash is None:
        assert done.returncode == 0, done.stderr
    return done.returncode


def _seed(engine: Engine, contracts: int) -> list[int]:
    """Contracts with an invoice unpaid 31 days after due: the sweep restricts each and notifies it."""
    with session_scope(engine) as session:
        made = [make_world(session)[0] for _ in range(contracts)]
        for contract in made:
            make_invoice(session, contract)
        return [c.id or 0 for c in made]


def _restricted_notices(engine: Engine) -> list[Notice]:
    with Session(engine) as session:
        query = select(Notice).where(Notice.kind == "restricted").order_by(col(Notice.contract_id))
        return list(session.exec(query).all())


def _subjects_per_contract(relay: Relay) -> Counter[str]:
    return Counter(s for s in relay.subjects_sent() if "Service restricted" in s)


def _subject(contract_id: int) -> str:
    return f"[D-Cloud] Service restricted for nonpayment (contract {contract_id})"


def test_killed_after_the_decision_commit_the_notice_is_sent_once_after_restart(
    pg_store_url: str, pg_engine: Engine, relay: Relay
) -> None:
    first, *rest = _seed(pg_engine, 3)

    crash = CrashPoint.SWEEP_CONTRACT_COMMITTED
    assert _job(pg_store_url, relay, "enforcement-sweep", DAY_31, crash) == KILLED

    # The first contract's decision committed with its notice in the outbox; nothing was sent, and the
    # contracts after it were not reached.
    [queued] = _restricted_notices(pg_engine)
    assert (queued.contract_id, queued.sent_at) == (first, None)
    with Session(pg_engine) as session:
        states = {c: session.get(Contract, c).state for c in [first, *rest]}  # type: ignore[union-attr]
    assert states == {first: "restricted", **dict.fromkeys(rest, "active")}
    assert relay.subjects_sent() == []

    # The restarted control plane: the sweep does the rest, delivery sends every notice, each once.
    _job(pg_store_url, relay, "enforcement-sweep", DAY_31)
    _job(pg_store_url, relay, "notice-delivery", DAY_31 + timedelta(days=1))
    _job(pg_store_url, relay, "notice-delivery", DAY_31 + timedelta(days=3))

    assert _subjects_per_contract(relay) == Counter(_subject(c) for c in [first, *rest])
    assert all(n.sent_at is not None and n.attempts == 1 for n in _restricted_notices(pg_engine))
    with Session(pg_engine) as session:
        assert len(session.exec(select(Block)).all()) == 3


def test_killed_after_claiming_a_notice_it_is_sent_once_when_the_lease_has_passed(
    pg_store_url: str, pg_engine: Engine, relay: Relay
) -> None:
    [contract] = _seed(pg_engine, 1)
    _job(pg_store_url, relay, "enforcement-sweep", DAY_31)
    claimed_on = DAY_31 + timedelta(days=1)

    assert _job(pg_store_url, relay, "notice-delivery", claimed_on, CrashPoint.NOTICE_CLAIMED) == KILLED

    [notice] = _restricted_notices(pg_engine)
    assert (notice.attempts, notice.sent_at) == (1, None)
    assert relay.subjects_sent() == []
    _job(pg_store_url, relay, "notice-delivery", claimed_on + timedelta(days=2))
    _job(pg_store_url, relay, "notice-delivery", claimed_on + timedelta(days=4))

    assert _subjects_per_contract(relay) == Counter([_subject(contract)])
    [notice] = _restricted_notices(pg_engine)
    assert notice.attempts == 2 and notice.sent_at is not None


def test_killed_after_the_relay_accepted_a_notice_the_retry_is_a_duplicate_with_the_same_message_id(
    pg_store_url: str, pg_engine: Engine, relay: Relay
) -> None:
    [contract] = _seed(pg_engine, 1)
    _job(pg_store_url, relay, "enforcement-sweep", DAY_31)
    sent_on = DAY_31 + timedelta(days=1)

    assert _job(pg_store_url, relay, "notice-delivery", sent_on, CrashPoint.NOTICE_HANDED_OVER) == KILLED

    [notice] = _restricted_notices(pg_engine)
    assert notice.sent_at is None  # the outbox cannot know the relay has it
    assert _subjects_per_contract(relay) == Counter([_subject(contract)])
    _job(pg_store_url, relay, "notice-delivery", sent_on + timedelta(days=2))
    _job(pg_store_url, relay, "notice-delivery", sent_on + timedelta(days=4))

    # At least once: sent again after the lease, then recorded, and never a third time.
    restricted = [m for m in relay.recorder.messages if "Service restricted" in str(m["Subject"])]
    assert len(restricted) == 2
    [notice] = _restricted_notices(pg_engine)
    assert notice.attempts == 2 and notice.sent_at is not None
    # Both copies are one message to the mail system: the same Message-ID, the notice's own.
    assert {m["Message-ID"] for m in restricted} == {message_id(notice.dedupe_key, SENDER)}
    others = {m["Message-ID"] for m in relay.recorder.messages} - {message_id(notice.dedupe_key, SENDER)}
    assert len(others) == len(relay.recorder.messages) - 2  # every other notice has an id of its own
