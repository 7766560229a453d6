"""Notice and answer deadlines of the terms, each computed from its anchor day (calendar days, Seoul).

Periods are counted as the Civil Act counts them (terms/periods.py): "within N days of X" covers
X+1 … X+N and so ends with X + N; "at least N days before Y" means on or before Y - N (a named day, not
an elapsed period); "within N months of X" ends on the day corresponding to X N months later (the month's
last day where it has none, Civil Act Art. 160). Every deadline records the counting that gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from controlplane.terms.calendar import add_days, add_months
from controlplane.terms.clauses import (
    ART_3_2,
    ART_3_3,
    ART_9_2,
    ART_19_2,
    ART_20_2,
    ART_26_4,
    ART_26_5,
    ART_35_1,
    ART_37_2,
    Clause,
)
from controlplane.terms.errors import PolicyInvalid
from controlplane.terms.periods import days_after, days_from_start_of
from controlplane.terms.policy import Policy


@dataclass(frozen=True, slots=True)
class Deadline:
    """`on` is the last day the act is still timely."""

    on: date
    clause: Clause
    what: str
    counting: str = ""

    @property
    def expires_end_of(self) -> date:
        return self.on

    def is_met_by(self, day: date) -> bool:
        return day <= self.on


_NAMED_DAY = "a named day before the anchor (on or before it), not an elapsed period"
_MONTHS = "civil-act-157,160: event day not counted; ends on the corresponding day"


def _within(anchor: date, days: int, clause: Clause, what: str) -> Deadline:
    period = days_after(anchor, days)
    return Deadline(period.expires_end_of, clause, what, period.describe())


def open_date_postponement_notice(open_date: date, *, policy: Policy) -> Deadline:
    """Art. 9(2): a customer postpones its open date with notice at least 3 days before it (O-3)."""
    return Deadline(
        add_days(open_date, -policy.open_date_postpone_notice_days),
        ART_9_2,
        "notify postponement of the open date",
        _NAMED_DAY,
    )


def termination_notice(requested_date: date, *, policy: Policy) -> Deadline:
    """Art. 20(2): the customer's termination request reaches the company 7 days before the date."""
    return Deadline(
        add_days(requested_date, -policy.termination_notice_days), ART_20_2, "request termination", _NAMED_DAY
    )


def earliest_termination_date(requested_on: date, *, policy: Policy) -> date:
    """Art. 20(2): the earliest last day of service a request filed on `requested_on` may ask for."""
    return add_days(requested_on, policy.termination_notice_days)


def dispute_window(invoice_sent_on: date, *, policy: Policy) -> Deadline:
    """Art. 35(1): an invoice is disputed within 15 days of being sent (sent day not counted)."""
    return _within(invoice_sent_on, policy.dispute_window_days, ART_35_1, "dispute the invoice")


def dispute_answer(dispute_received_on: date, *, policy: Policy) -> Deadline:
    """Art. 35(1): the company answers a dispute within 7 days."""
    return _within(dispute_received_on, policy.dispute_answer_days, ART_35_1, "answer the dispute")


def spam_answer(complaint_received_on: date, *, policy: Policy) -> Deadline:
    """Art. 26(4): the spam officer answers a complaint within 7 days."""
    return _within(complaint_received_on, policy.spam_answer_days, ART_26_4, "answer the spam complaint")


def spam_fix_report(asked_on: date, *, policy: Policy) -> Deadline:
    """Art. 26(5): the customer reports its fix within 7 days of being asked (else 26(6) restriction)."""
    return _within(asked_on, policy.spam_fix_report_days, ART_26_5, "report the spam fix")


def succession_filing(event_on: date, *, policy: Policy) -> Deadline:
    """Art. 19(2): a legal succession is filed within 30 days of the event."""
    return _within(event_on, policy.succession_filing_days, ART_19_2, "file the succession")


def claim_window(learned_on: date, *, policy: Policy, cause_arose_on: date | None = None) -> Deadline:
    """Art. 37(2): a claim is made within 3 months of learning of its cause, and never more than 3 months
    after the cause arose (the second sentence): the earlier limit wins."""
    limit = add_months(learned_on, policy.claim_window_months)
    what = "claim damages (3 months from learning the cause)"
    if cause_arose_on is not None and add_months(cause_arose_on, policy.claim_window_months) < limit:
        limit = add_months(cause_arose_on, policy.claim_window_months)
        what = "claim damages (3 months from the cause arising)"
    return Deadline(limit, ART_37_2, what, _MONTHS)


def objection_window(effective_on: date, *, policy: Policy) -> Deadline:
    """Art. 3(3): a customer may object until the end of the 7th day counting the effective date itself
    (E … E+6); silence is consent from E+7."""
    period = days_from_start_of(effective_on, policy.objection_days)
    return Deadline(period.expires_end_of, ART_3_3, "object to the terms change", period.describe())


def term_change_announcement(effective_on: date, unfavourable: bool, *, policy: Policy) -> Deadline:
    """Art. 3(2): a terms change is announced 7 days before it applies, 30 if unfavourable ("7일 전부터
    공시": on or before E-7, a named day)."""
    days = policy.unfavourable_term_change_notice_days if unfavourable else policy.term_change_notice_days
    return Deadline(add_days(effective_on, -days), ART_3_2, "announce the terms change", _NAMED_DAY)


def check_announcement(version: Policy, in_force: Policy) -> None:
    """Art. 3(2): a version's announcement came early enough under the notice days of `in_force` (the
    version it replaces, whose terms promised the notice). Unannounced versions are internal overrides."""
    if version.announced_on is None:
        return
    deadline = term_change_announcement(version.effective_from, version.unfavourable, policy=in_force)
    if not deadline.is_met_by(version.announced_on):
        days = (version.effective_from - version.announced_on).days
        kind = "an unfavourable" if version.unfavourable else "a"
        raise PolicyInvalid(
            f"announced {days} days before it applies; {kind} terms change needs announcing by "
            f"{deadline.on.isoformat()} ({deadline.clause})",
            field="announced_on",
        )
