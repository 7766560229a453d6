"""Billing's periodic jobs: the monthly invoicing run and notice delivery (run by the scheduler leader)."""

from __future__ import annotations

import logging

from controlplane.notify.email import SmtpSender
from controlplane.notify.sms import LoggingSmsProvider
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.notices import deliver_due_notices
from controlplane.terms.calendar import YearMonth, seoul_date
from scheduler.faults import delivery_hook
from scheduler.registry import JobContext, register_job
from scheduler.schedule import JOB_TIMES

log = logging.getLogger(__name__)


# Art. 31(1): the invoice for M goes out by the 10th of M+1; idempotent, one invoice per contract and month.
@register_job("invoicing", **JOB_TIMES["invoicing"])
def invoice_previous_month(ctx: JobContext) -> None:
    now = ctx.clock()
    today = seoul_date(now)
    month = YearMonth.of(today).previous()
    report = generate_invoices(ctx.engine, month=month, as_of=today, now=now)
    log.info("invoicing %s: %s", month, vars(report))


# Art. 13: the outbox, delivered at least once.
@register_job("notice-delivery", **JOB_TIMES["notice-delivery"])
def deliver_notices(ctx: JobContext) -> None:
    report = deliver_due_notices(
        ctx.engine,
        SmtpSender.from_settings(ctx.settings),
        LoggingSmsProvider(),
        ctx.clock,
        after_step=delivery_hook(ctx.settings),
    )
    if report.sent or report.failed:
        log.info("notices: %d sent, %d failed", report.sent, report.failed)
