"""Jobs run only in the leader, the registry rejects ambiguous registrations, a listed job module is never
skipped."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

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
from scheduler.runner import build_scheduler, run_if_leader


def _context(url: str) -> JobContext:
    return JobContext(
        engine=make_engine(url), settings=Settings(), clock=FixedClock(datetime(2027, 3, 1, tzinfo=UTC))
    )


def test_registered_interval_job_runs_in_the_leader(tmp_path: object) -> None:
    registry = JobRegistry()
    ran = threading.Event()

    @register_job("tick", seconds=0.05, registry=registry)
    def tick(ctx: JobContext) -> None:
        assert ctx.clock().year == 2027
        ran.set()

    scheduler = build_scheduler(
        context=_context(f"sqlite:///{tmp_path}/j.db"), elector=SingleProcessLeader(), registry=registry
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


def test_two_different_jobs_cannot_share_a_name() -> None:
    registry = JobRegistry()
    register_job("x", minutes=1, registry=registry)(lambda ctx: None)
    with pytest.raises(ValueError):
        register_job("x", minutes=1, registry=registry)(lambda ctx: None)


@pytest.mark.postgres
def test_only_the_leader_runs_a_job_body(pg_url: str) -> None:
    context = _context(pg_url)
    conninfo = conninfo_for(context.engine)
    leader, follower = PgAdvisoryLeader(conninfo), PgAdvisoryLeader(conninfo)
    calls: list[str] = []
    registry = JobRegistry()
    register_job("count", minutes=1, registry=registry)(lambda ctx: calls.append("ran"))
    (spec,) = registry.specs()
    try:
        assert run_if_leader(spec, context, leader) is True
        assert run_if_leader(spec, context, follower) is False
        assert calls == ["ran"]
        leader.close()  # the follower takes over on its next check
        assert run_if_leader(spec, context, follower) is True
        assert calls == ["ran", "ran"]
    finally:
        leader.close()
        follower.close()
        context.engine.dispose()


def test_the_listed_job_modules_register_every_periodic_job() -> None:
    load_job_modules()
    names = {spec.name for spec in REGISTRY.specs()}
    assert {"enforcement-sweep", "renewal", "invoicing", "notice-delivery"} <= names


def test_a_missing_job_module_fails_loudly() -> None:
    with pytest.raises(JobModuleMissing, match=r"scheduler\.jobs\.no_such_family"):
        load_job_modules(["scheduler.jobs.no_such_family"])


def test_serve_with_scheduler_stops_at_startup_on_a_missing_job_module(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
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
