"""The network module's periodic job: addresses whose quarantine ended (lendable again)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import Session

from network.service import quarantine_ended
from scheduler.registry import JobContext, register_job
from scheduler.schedule import JOB_TIMES

log = logging.getLogger(__name__)


@register_job("address-quarantine", **JOB_TIMES["address-quarantine"])
def address_quarantine(ctx: JobContext) -> None:
    now = ctx.clock()
    with Session(ctx.engine) as session:
        freed = quarantine_ended(session, since=now - timedelta(days=1), until=now)
    if freed:
        log.info("%d released address(es) left quarantine in the last day", freed)
