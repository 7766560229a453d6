"""Jobs run only in the leader, the registry rejects ambiguous registrations, a listed job module is never
skipped, and every job the issue names is registered with a Seoul time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.clock import FixedClock
from controlplane.config import Settings
from controlplane.db import make_engine
from scheduler import jobs
from scheduler.leader import PgAdvisoryLeader, SingleProcessLeader, conninfo_for
from scheduler.registry import (
    REGISTRY,
    JobContext,
    JobModuleMissing,
    JobRegistry,
    load_job_modules,
    register_job,
)
from scheduler.runner import Scheduler, build_scheduler
from scheduler.triggers import SeoulCron

ALL_JOBS = {
    "invoicing",
    "enforcement-sweep",
    "renewal",
    "plan-changes",
    "address-quarantine",
    "sla-figures",
    "notice-delivery",
    "host-heartbeats",
    "case-deadlines",
    "maintenance-windows",
    "image-imports",
}


def _context(engine: Engine, now: datetime = datetime(2027, 3, 1, tzinfo=UTC)) -> JobContext:
    return JobContext(engine=engine, settings=Settings(), clock=FixedClock(now))


def test_registered_interval_job_runs_in_the_leader(sqlite_engine: Engine) -> None:
    registry = JobRegistry()
    ran = threading.Event()

    @register_job("tick", seconds=60, registry=registry)
    def tick(ctx: JobContext) -> None:
        assert ctx.clock().year == 2027
        ran.set()

    scheduler = Scheduler(
        context=_context(sqlite_engine),
        elector=SingleProcessLeader(),
        registry=registry,
        check_interval_s=0.05,
    )
    scheduler.start()
    try:
        assert ran.wait(timeout=5)
    finally:
        scheduler.shutdown(wait=True)


def test_registration_needs_exactly_one_trigger() -> None:
    with pytest.raises(ValueError):
        register_job("x", registry=JobRegistry())
    with pytest.raises(ValueError):
        register_job("x", cron={"hour": 1}, minutes=5, registry=JobRegistry())


def test_cron_jobs_refuse_a_time_zone_other_than_seoul() -> None:
    with pytest.raises(ValueError, match="Asia/Seoul"):
        register_job("x", cron={"hour": 1, "timezone": "UTC"}, registry=JobRegistry())


def test_two_different_jobs_cannot_share_a_name() -> None:
    registry = JobRegistry()
    register_job("x", minutes=1, registry=registry)(lambda ctx: None)
    with pytest.raises(ValueError):
        register_job("x", minutes=1, registry=registry)(lambda ctx: None)


@pytest.mark.postgres
def test_only_the_leader_runs_a_job_body(pg_engine: Engine) -> None:
    conninfo = conninfo_for(pg_engine)
    leader, follower = PgAdvisoryLeader(conninfo), PgAdvisoryLeader(conninfo)
    clock = FixedClock(datetime(2027, 3, 1, tzinfo=UTC))
    context = JobContext(engine=pg_engine, settings=Settings(), clock=clock)
    calls: list[str] = []
    registry = JobRegistry()
    register_job("count", minutes=1, registry=registry)(lambda ctx: calls.append("ran"))
    first = Scheduler(context=context, elector=leader, registry=registry, runner="a")
    second = Scheduler(context=context, elector=follower, registry=registry, runner="b")
    try:
        assert len(first.check()) == 1
        assert second.check() == []
        assert calls == ["ran"]
        leader.close()  # the follower takes over on its next check
        clock.advance(minutes=1)
        assert len(second.check()) == 1
        assert calls == ["ran", "ran"]
    finally:
        leader.close()
        follower.close()


def test_the_listed_job_modules_register_every_periodic_job() -> None:
    load_job_modules()
    names = {spec.name for spec in REGISTRY.specs()}
    assert names >= ALL_JOBS


def test_every_cron_job_fires_at_its_seoul_time() -> None:
    load_job_modules()
    sweep = REGISTRY.get("enforcement-sweep")
    assert sweep is not None and isinstance(sweep.trigger, SeoulCron)
    # 02:00 Seoul is 17:00 UTC the day before.
    assert sweep.trigger.next_after(datetime(2027, 3, 1, 12, tzinfo=UTC)) == datetime(
        2027, 3, 1, 17, tzinfo=UTC
    )


def test_a_missing_job_module_fails_loudly() -> None:
    with pytest.raises(JobModuleMissing, match=r"scheduler\.jobs\.no_such_family"):
        load_job_modules(["scheduler.jobs.no_such_family"])


def test_serve_with_scheduler_stops_at_startup_on_a_missing_job_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from controlplane.cli.up import run_scheduler_thread

    monkeypatch.setattr(jobs, "JOB_MODULES", (*jobs.JOB_MODULES, "scheduler.jobs.no_such_family"))
    engine = make_engine(f"sqlite:///{tmp_path}/j.db")
    stop = threading.Event()
    try:
        with pytest.raises(JobModuleMissing):
            run_scheduler_thread(Settings(), engine, stop)
    finally:
        stop.set()
        engine.dispose()


def test_build_scheduler_takes_the_deployments_job_times(sqlite_engine: Engine) -> None:
    load_job_modules()
    context = JobContext(
        engine=sqlite_engine,
        settings=Settings(job_times='{"enforcement-sweep": {"cron": {"hour": 5, "minute": 15}}}'),
        clock=FixedClock(datetime(2027, 3, 1, tzinfo=UTC)),
    )
    scheduler = build_scheduler(context=context, elector=SingleProcessLeader())
    sweep = next(s for s in scheduler.specs if s.name == "enforcement-sweep")
    assert sweep.trigger.next_after(datetime(2027, 3, 1, 12, tzinfo=UTC)) == datetime(
        2027, 3, 1, 20, 15, tzinfo=UTC
    )
