"""Enforcement's periodic jobs (run by the scheduler leader): the daily sweep and renewals."""

from __future__ import annotations

import logging

from sqlmodel import Session

import controlplane.services.enforcement.availability  # noqa: F401  registers the SLA-credit invoice lines
from controlplane.services.contracts.renewal import renew_contracts
from controlplane.services.contracts.terms_changes import announce_terms_changes
from controlplane.services.enforcement import sweep as enforcement
from controlplane.terms.calendar import seoul_date
from scheduler.registry import JobContext, register_job

log = logging.getLogger(__name__)


# Daily, early in the Seoul morning; deadlines come from their anchors, so a missed day is caught up.
@register_job("enforcement-sweep", cron={"hour": 2, "minute": 0, "timezone": "Asia/Seoul"})
def daily_sweep(ctx: JobContext) -> None:
    now = ctx.clock()
    as_of = seoul_date(now)
    with Session(ctx.engine) as session:
        actions = enforcement.plan(session, as_of, now=now)
    result = enforcement.apply(ctx.engine, actions, as_of, "system:sweep", now=now)
    log.info(
        "sweep %s: %d applied, %d dropped, %d failed",
        as_of,
        len(result.applied),
        len(result.dropped),
        len(result.failed),
    )


# Art. 18: a term ends at the end of its last day; renew the next morning.
@register_job("renewal", cron={"hour": 0, "minute": 30, "timezone": "Asia/Seoul"})
def daily_renewal(ctx: JobContext) -> None:
    now = ctx.clock()
    # Art. 3(2),(3): customers hear of an announced version before any renewal moves them onto it.
    announce_terms_changes(ctx.engine, as_of=seoul_date(now), now=now)
    report = renew_contracts(ctx.engine, as_of=seoul_date(now), now=now)
    if report.renewed or report.ended or report.failed:
        log.info(
            "renewal: %d renewed, %d not renewed, %d failed",
            len(report.renewed),
            len(report.ended),
            len(report.failed),
        )
