"""Two scheduler processes on one PostgreSQL store, over fast-forwarded firings (one job, hourly in
simulated time): every firing runs once, a SIGKILLed leader's place is taken without running anything
twice, and two processes that both believe they lead still produce one run per firing."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.models.jobs import JobOutcome, JobRun

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("scheduler_worker.py")
HOUR = timedelta(hours=1)


class Workers:
    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log
        self.real_start = time.time()
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, str(WORKER), "--url", self.url, "--log", str(self.log)]
        command += ["--real-start", str(self.real_start), *extra]
        proc = subprocess.Popen(command, env=env, cwd=ROOT)
        self.procs.append(proc)
        return proc

    def lines(self) -> list[tuple[str, str, int]]:
        if not self.log.exists():
            return []
        rows = [line.split() for line in self.log.read_text().splitlines()]
        return [(kind, fire, int(pid)) for kind, fire, pid in rows]

    def wait_ready(self, count: int) -> None:
        deadline = time.time() + 30
        while sum(1 for kind, _, _ in self.lines() if kind == "ready") < count:
            assert time.time() < deadline, "workers did not start"
            time.sleep(0.05)

    def starts(self) -> list[tuple[datetime, int]]:
        return [(datetime.fromisoformat(f), pid) for kind, f, pid in self.lines() if kind == "start"]

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(pg_store_url: str, tmp_path: Path) -> Iterator[Workers]:
    group = Workers(pg_store_url, tmp_path / "bodies.log")
    yield group
    group.stop_all()


def _rows(engine: Engine) -> list[JobRun]:
    with Session(engine) as session:
        query = select(JobRun).where(JobRun.job == "tick").order_by(col(JobRun.scheduled_for))
        return list(session.exec(query).all())


def _contiguous(fires: list[datetime]) -> bool:
    return all(b - a == HOUR for a, b in itertools.pairwise(fires))


def test_two_schedulers_record_each_fast_forwarded_firing_once(workers: Workers, pg_engine: Engine) -> None:
    # One simulated hour every half real second: ~14 firings in 7 s.
    workers.start("--speed", "7200")
    workers.start("--speed", "7200")
    workers.wait_ready(2)
    time.sleep(7)
    workers.stop_all()
    fires = [fire for fire, _ in workers.starts()]
    assert len(fires) >= 8
    assert len(fires) == len(set(fires))  # no body ran twice
    assert _contiguous(sorted(fires))  # and none was skipped
    rows = _rows(pg_engine)
    assert [r.scheduled_for for r in rows] == sorted(fires)
    assert {r.outcome for r in rows} == {JobOutcome.SUCCEEDED}


def test_sigkilled_leader_is_replaced_and_nothing_runs_twice(workers: Workers, pg_engine: Engine) -> None:
    # One simulated hour per real second; each body takes 0.6 s, so a kill lands mid-run.
    a = workers.start("--speed", "3600", "--body-s", "0.6")
    b = workers.start("--speed", "3600", "--body-s", "0.6")
    workers.wait_ready(2)
    deadline = time.time() + 20
    while True:
        lines = workers.lines()
        ended = {(f, p) for kind, f, p in lines if kind == "end"}
        running = [(f, p) for kind, f, p in lines if kind == "start" and (f, p) not in ended]
        if running and len(workers.starts()) >= 2:
            break
        assert time.time() < deadline, "no run in progress to interrupt"
        time.sleep(0.02)
    killed_fire, leader_pid = running[-1]
    os.kill(leader_pid, signal.SIGKILL)
    survivor = b if leader_pid == a.pid else a
    time.sleep(4)
    workers.stop_all()

    starts = workers.starts()
    fires = [fire for fire, _ in starts]
    assert len(fires) == len(set(fires))  # nothing ran twice, the killed firing included
    killed = datetime.fromisoformat(killed_fire)
    after = sorted(fire for fire, pid in starts if pid == survivor.pid and fire > killed)
    assert after, "the follower never took over"
    assert after[0] - killed <= 2 * HOUR  # it took over within a firing or so (checks every 0.1 s)
    abandoned = [r for r in _rows(pg_engine) if r.scheduled_for == killed]
    assert [r.outcome for r in abandoned] == [JobOutcome.ABANDONED]


def test_two_processes_forced_to_both_lead_still_run_each_firing_once(
    workers: Workers, pg_engine: Engine
) -> None:
    workers.start("--speed", "7200", "--forced", "--check-s", "0.03")
    workers.start("--speed", "7200", "--forced", "--check-s", "0.03")
    workers.wait_ready(2)
    time.sleep(6)
    workers.stop_all()
    fires = [fire for fire, _ in workers.starts()]
    assert len(fires) >= 6
    assert len(fires) == len(set(fires))
    assert len(_rows(pg_engine)) == len(fires)
