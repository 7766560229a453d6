"""Fleet's periodic jobs: maintenance window transitions, host heartbeat checks, interrupted imports."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import Session

from controlplane.models.host import HostHealth
from controlplane.services.fleet.hosts import host_health, list_hosts
from controlplane.services.fleet.images import fail_interrupted_imports
from controlplane.services.fleet.maintenance_run import advance_windows
from scheduler.registry import JobContext, register_job
from scheduler.schedule import JOB_TIMES

log = logging.getLogger(__name__)


# Art. 10(8), 14(2): notify, start and end every window on its own times.
@register_job("maintenance-windows", **JOB_TIMES["maintenance-windows"])
def maintenance_windows(ctx: JobContext) -> None:
    report = advance_windows(ctx.engine, now=ctx.clock())
    if report.notified or report.started or report.completed or report.failed:
        log.info("maintenance windows: %s", vars(report))


# A host whose heartbeats stopped is `unknown` (never `down`) after the grace; say so once, when it goes.
@register_job("host-heartbeats", **JOB_TIMES["host-heartbeats"])
def host_heartbeats(ctx: JobContext) -> None:
    now, settings = ctx.clock(), ctx.settings
    grace = timedelta(seconds=settings.heartbeat_interval_s * settings.heartbeat_missed_limit)
    period = timedelta(seconds=float(JOB_TIMES["host-heartbeats"].get("seconds", 60)))
    with Session(ctx.engine) as session:
        for host in list_hosts(session):
            if host_health(host, now=now, settings=settings) != HostHealth.UNKNOWN:
                continue
            last = host.last_heartbeat_at
            if last is not None and now - last <= grace + period:  # went unknown since the last check
                log.warning("host %s has sent no heartbeat since %s: health unknown", host.name, last)


@register_job("image-imports", **JOB_TIMES["image-imports"])
def image_imports(ctx: JobContext) -> None:
    failed = fail_interrupted_imports(ctx.engine, now=ctx.clock(), settings=ctx.settings)
    if failed:
        log.warning("image imports interrupted, now failed: %s", ", ".join(failed))
