"""The scheduler every control plane runs; only the leader's job bodies execute."""

from __future__ import annotations

import logging
import threading
from datetime import UTC

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.leader import LeaderElector
from scheduler.registry import REGISTRY, JobContext, JobRegistry, JobSpec, load_job_modules

log = logging.getLogger(__name__)


def run_if_leader(spec: JobSpec, context: JobContext, elector: LeaderElector) -> bool:
    """Runs one job if, at this moment, we hold leadership; returns whether it ran."""
    if not elector.is_leader():
        log.debug("not the leader, skipping %s", spec.name)
        return False
    spec.func(context)
    return True


def build_scheduler(
    *, context: JobContext, elector: LeaderElector, registry: JobRegistry = REGISTRY
) -> BackgroundScheduler:
    # In-memory job store on purpose: APScheduler 3 must not share a persistent store between schedulers.
    scheduler = BackgroundScheduler(jobstores={"default": MemoryJobStore()}, timezone=UTC)
    for spec in registry.specs():
        scheduler.add_job(
            run_if_leader,
            spec.trigger,
            args=(spec, context, elector),
            id=spec.name,
            name=spec.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            **spec.trigger_args,
        )
    return scheduler


def run_scheduler(context: JobContext, elector: LeaderElector, stop: threading.Event) -> None:
    """Blocks until `stop` is set (used by `dcloud up` in a thread)."""
    load_job_modules()
    scheduler = build_scheduler(context=context, elector=elector)
    scheduler.start()
    log.info("scheduler started with %d job(s)", len(scheduler.get_jobs()))
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        elector.close()
