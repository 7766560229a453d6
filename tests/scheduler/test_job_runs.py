"""Job runs are rows: a firing runs once, a missed firing is caught up once, failures are recorded, a
non-leader is silent, and the metrics come from the rows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.clock import FixedClock
from controlplane.config import Settings
from controlplane.main import create_app
from controlplane.models.jobs import JobOutcome, JobRun
from controlplane.services.job_runs import claim_firing
from scheduler.registry import JobContext, JobRegistry, register_job
from scheduler.runner import Scheduler

START = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)  # 12:00 Seoul


class Never:
    def is_leader(self) -> bool:
        return False

    def close(self) -> None:
        return None


class Always:
    def is_leader(self) -> bool:
        return True

    def close(self) -> None:
        return None


def _daily(calls: list[datetime | None]) -> JobRegistry:
    registry = JobRegistry()
    register_job("daily", cron={"hour": 2, "minute": 0}, registry=registry)(
        lambda ctx: calls.append(ctx.scheduled_for)
    )
    return registry


def _scheduler(
    engine: Engine, clock: FixedClock, registry: JobRegistry, runner: str, elector: object = None
) -> Scheduler:
    context = JobContext(engine=engine, settings=Settings(), clock=clock)
    return Scheduler(context=context, elector=elector or Always(), registry=registry, runner=runner)  # type: ignore[arg-type]


def _runs(engine: Engine, job: str) -> list[JobRun]:
    with Session(engine) as session:
        return list(session.exec(select(JobRun).where(JobRun.job == job).order_by(col(JobRun.id))).all())


def test_a_scheduler_stopped_across_due_dates_performs_the_missed_run_once_on_start(
    sqlite_engine: Engine,
) -> None:
    calls: list[datetime | None] = []
    clock = FixedClock(START)
    first = _scheduler(sqlite_engine, clock, _daily(calls), "first")
    first.check()
    assert calls == [datetime(2027, 2, 28, 17, 0, tzinfo=UTC)]  # today's 02:00 Seoul
    # Down for three days (three 02:00 firings missed); a fresh process starts.
    clock.advance(days=3)
    restarted = _scheduler(sqlite_engine, clock, _daily(calls), "restarted")
    restarted.check()
    restarted.check()
    assert calls[1:] == [datetime(2027, 3, 3, 17, 0, tzinfo=UTC)]  # only the latest missed firing, once
    assert [r.outcome for r in _runs(sqlite_engine, "daily")] == ["succeeded", "succeeded"]


def test_two_schedulers_that_both_believe_they_lead_run_each_firing_once(sqlite_engine: Engine) -> None:
    calls: list[datetime | None] = []
    clock = FixedClock(START)
    a = _scheduler(sqlite_engine, clock, _daily(calls), "a")
    b = _scheduler(sqlite_engine, clock, _daily(calls), "b")
    for _ in range(5):
        a.check()
        b.check()
        clock.advance(days=1)
    assert len(calls) == 5 and len(set(calls)) == 5
    assert len(_runs(sqlite_engine, "daily")) == 5


def test_a_firing_already_claimed_is_not_claimed_again(sqlite_engine: Engine) -> None:
    fire = datetime(2027, 3, 1, tzinfo=UTC)
    first = claim_firing(sqlite_engine, job="x", scheduled_for=fire, now=fire, runner="a", period_s=60)
    again = claim_firing(sqlite_engine, job="x", scheduled_for=fire, now=fire, runner="b", period_s=60)
    assert first is not None and again is None


def test_a_failing_job_is_recorded_with_its_error_and_the_others_still_run(sqlite_engine: Engine) -> None:
    registry = JobRegistry()

    def broken(ctx: JobContext) -> None:
        raise RuntimeError("relay down")

    register_job("a-broken", minutes=1, registry=registry)(broken)
    ran: list[str] = []
    register_job("b-fine", minutes=1, registry=registry)(lambda ctx: ran.append("fine"))
    _scheduler(sqlite_engine, FixedClock(START), registry, "r").check()
    (failed,) = _runs(sqlite_engine, "a-broken")
    assert failed.outcome == JobOutcome.FAILED and failed.error == "RuntimeError: relay down"
    assert failed.finished_at is not None
    assert ran == ["fine"]


def test_a_non_leader_logs_nothing_per_job(sqlite_engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[datetime | None] = []
    follower = _scheduler(sqlite_engine, FixedClock(START), _daily(calls), "f", elector=Never())
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            follower.check()
    assert calls == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("scheduler")] == []
    assert _runs(sqlite_engine, "daily") == []


def test_a_new_leader_marks_the_dead_leaders_unfinished_run_abandoned_and_does_not_rerun_it(
    sqlite_engine: Engine,
) -> None:
    calls: list[datetime | None] = []
    fire = datetime(2027, 2, 28, 17, 0, tzinfo=UTC)
    claim_firing(sqlite_engine, job="daily", scheduled_for=fire, now=fire, runner="dead", period_s=86400)
    _scheduler(sqlite_engine, FixedClock(START), _daily(calls), "heir").check()
    assert calls == []
    (run,) = _runs(sqlite_engine, "daily")
    assert run.outcome == JobOutcome.ABANDONED and run.runner == "dead"


def test_metrics_report_runs_failures_last_success_and_leadership_from_the_rows(
    sqlite_engine: Engine,
) -> None:
    registry = JobRegistry()
    register_job("ok", minutes=1, registry=registry)(lambda ctx: None)

    def broken(ctx: JobContext) -> None:
        raise RuntimeError("x")

    register_job("bad", minutes=1, registry=registry)(broken)
    clock = FixedClock(START)
    scheduler = _scheduler(sqlite_engine, clock, registry, "metrics-test-instance")
    scheduler.check()
    clock.advance(minutes=1)
    scheduler.check()
    text = TestClient(create_app(engine=sqlite_engine, clock=clock)).get("/metrics").text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("dcloud_job_runs_total", (("job", "ok"), ("outcome", "succeeded")))] == 2
    assert samples[("dcloud_job_failures_total", (("job", "bad"),))] == 2
    last = samples[("dcloud_job_last_success_timestamp_seconds", (("job", "ok"),))]
    assert last == (START + timedelta(minutes=1)).timestamp()
    assert samples[("dcloud_job_period_seconds", (("job", "ok"),))] == 60
    assert samples[("dcloud_scheduler_leader", (("instance", "metrics-test-instance"),))] == 1
