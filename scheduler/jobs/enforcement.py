"""Enforcement's periodic jobs (run by the scheduler leader): the daily sweep, renewals, plan changes'
server sizes, the month's SLA figures and the deadlines of answers owed."""

from __future__ import annotations

import logging

from sqlmodel import Session

from controlplane.services.contracts.plan_changes import apply_due_plan_sizes
from controlplane.services.contracts.renewal import renew_contracts
from controlplane.services.contracts.terms_changes import announce_terms_changes
from controlplane.services.enforcement import availability  # also registers the SLA-credit invoice lines
from controlplane.services.enforcement import sweep as enforcement
from controlplane.services.enforcement.disputes import list_disputes
from controlplane.services.enforcement.spam import open_deadlines as spam_deadlines
from controlplane.terms.calendar import YearMonth, seoul_date
from scheduler.faults import sweep_commit_hook
from scheduler.registry import JobContext, register_job
from scheduler.schedule import JOB_TIMES

log = logging.getLogger(__name__)


# Daily, early in the Seoul morning; deadlines come from their anchors, so a missed day is caught up.
@register_job("enforcement-sweep", **JOB_TIMES["enforcement-sweep"])
def daily_sweep(ctx: JobContext) -> None:
    now = ctx.clock()
    as_of = seoul_date(now)
    with Session(ctx.engine) as session:
        actions = enforcement.plan(session, as_of, now=now)
    result = enforcement.apply(
        ctx.engine, actions, as_of, "system:sweep", now=now, after_commit=sweep_commit_hook(ctx.settings)
    )
    log.info(
        "sweep %s: %d applied, %d dropped, %d failed",
        as_of,
        len(result.applied),
        len(result.dropped),
        len(result.failed),
    )


# Art. 18: a term ends at the end of its last day; renew the next morning.
@register_job("renewal", **JOB_TIMES["renewal"])
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


# Art. 32(2): a plan change's server size on its effective date (Seoul); a missed day is caught up, and a
# size already acted on is never acted on again.
@register_job("plan-changes", **JOB_TIMES["plan-changes"])
def daily_plan_sizes(ctx: JobContext) -> None:
    now = ctx.clock()
    report = apply_due_plan_sizes(ctx.engine, as_of=seoul_date(now), now=now)
    if report.applied or report.skipped or report.superseded or report.waiting:
        log.info(
            "plan changes: %d sized, %d skipped, %d superseded, %d waiting",
            len(report.applied),
            len(report.skipped),
            len(report.superseded),
            len(report.waiting),
        )
    for failure in report.failed:  # once per run: a size left waiting is retried, and logged, on the next
        log.error("plan change size not applied to server %s", failure)


# Art. 36: on the 1st, availability of every contract with an outage in the month just ended; below the
# threshold is logged for the credit a claim will bring (claims themselves are the customer's, Art. 37).
@register_job("sla-figures", **JOB_TIMES["sla-figures"])
def monthly_sla_figures(ctx: JobContext) -> None:
    month = YearMonth.of(seoul_date(ctx.clock())).previous()
    with Session(ctx.engine) as session:
        for contract_id in availability.contracts_with_outages(session, month):
            figures = availability.availability(session, contract_id=contract_id, month=month)
            log.info(
                "availability %s contract %s: %.4f%%, credit %s (%s)",
                month,
                contract_id,
                float(figures.availability_percent),
                figures.amount,
                figures.clause,
            )


# Art. 35(1): a dispute is answered within 7 days; Art. 26(4),(5): a spam complaint is answered, and the
# customer's fix reported, within 7 days. Warn the morning one is due or overdue.
SPAM_CLAUSES = {"answer": "Art. 26(4)", "fix_report": "Art. 26(5)"}


@register_job("case-deadlines", **JOB_TIMES["case-deadlines"])
def case_deadlines(ctx: JobContext) -> None:
    today = seoul_date(ctx.clock())
    with Session(ctx.engine) as session:
        for dispute in list_disputes(session, open_only=True, limit=10_000):
            left = (dispute.answer_due_on - today).days
            if left <= 1:
                log.warning(
                    "dispute %s on invoice %s: answer due %s (%s, Art. 35(1))",
                    dispute.id,
                    dispute.invoice_id,
                    dispute.answer_due_on,
                    "overdue" if left < 0 else "due within a day",
                )
        for stage, due_on in spam_deadlines(session):
            left = (due_on - today).days
            if left <= 1:
                log.warning(
                    "spam complaint %s due %s (%s, %s)",
                    stage.replace("_", " "),
                    due_on,
                    "overdue" if left < 0 else "due within a day",
                    SPAM_CLAUSES.get(stage, "Art. 26"),
                )
