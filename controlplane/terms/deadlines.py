"""Notice and answer deadlines of the terms, each computed from its anchor day (calendar days, Seoul).

"Within N days of X" ends on X + N; "at least N days before Y" means on or before Y - N;
"within N months of X" ends on the same day N months later (the month's last day where it has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from controlplane.terms.calendar import add_days, add_months
from controlplane.terms.clauses import (
    ART_3_2,
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
from controlplane.terms.policy import DEFAULT_POLICY, Policy


@dataclass(frozen=True, slots=True)
class Deadline:
    """`on` is the last day the act is still timely."""

    on: date
    clause: Clause
    what: str

    def is_met_by(self, day: date) -> bool:
        return day <= self.on


def open_date_postponement_notice(open_date: date, policy: Policy = DEFAULT_POLICY) -> Deadline:
    """Art. 9(2): a customer postpones its open date with notice at least 3 days before it."""
    return Deadline(add_days(open_date, -policy.open_date_postpone_notice_days), ART_9_2,
                    "notify postponement of the open date")


def termination_notice(requested_date: date, policy: Policy = DEFAULT_POLICY) -> Deadline:
    """Art. 20(2): the customer's termination request reaches the company 7 days before the date."""
    return Deadline(add_days(requested_date, -policy.termination_notice_days), ART_20_2,
                    "request termination")


def earliest_termination_date(requested_on: date, policy: Policy = DEFAULT_POLICY) -> date:
    """Art. 20(2): the earliest termination date a request filed on `requested_on` may ask for."""
    return add_days(requested_on, policy.termination_notice_days)


def dispute_window(invoice_sent_on: date, policy: Policy = DEFAULT_POLICY) -> Deadline:
    """Art. 35(1): an invoice is disputed within 15 days of being sent."""
    return Deadline(add_days(invoice_sent_on, policy.dispute_window_days), ART_35_1, "dispute the invoice")


def dispute_answer(dispute_received_on: date, policy: Policy = DEFAULT_POLICY) -> Deadline:
    """Art. 35(1): the company answers a dispute within 7 days."""
    return Deadline(add_days(dispute_received_on, policy.dispute_answer_days), ART_35_1,
                    "answer the dispute")


def spam_answer(complaint_received_on: date, policy: Policy = DEFAULT_POLICY) -> Deadline:
    """Art. 26(4): the spam officer answers a complaint within 7 days."""
    return Deadline(add_days(complaint_received_on, policy.spam_answer_days), ART_26_4,
                    "answer the spam complaint")


def spam_fix_report(asked_on: date, policy: Policy = DEFAULT_POLICY) -> Deadline:
    """Art. 26(5): the customer reports its fix within 7 days of being asked (else 26(6) restriction)."""
    return Deadline(add_days(asked_on, policy.spam_fix_report_days), ART_26_5, "report the spam fix")


def succession_filing(event_on: date, policy: Policy = DEFAULT_POLICY) -> Deadline:
    """Art. 19(2): a legal succession is filed within 30 days of the event."""
    return Deadline(add_days(event_on, policy.succession_filing_days), ART_19_2, "file the succession")


def claim_window(learned_on: date, policy: Policy = DEFAULT_POLICY) -> Deadline:
    """Art. 37(2): a damages claim is made within 3 months of learning of its cause."""
    return Deadline(add_months(learned_on, policy.claim_window_months), ART_37_2, "claim damages")


def term_change_announcement(effective_on: date, unfavourable: bool,
                             policy: Policy = DEFAULT_POLICY) -> Deadline:
    """Art. 3(2): a terms change is announced 7 days before it applies, 30 if unfavourable."""
    days = policy.unfavourable_term_change_notice_days if unfavourable else policy.term_change_notice_days
    return Deadline(add_days(effective_on, -days), ART_3_2, "announce the terms change")


def check_announcement(version: Policy, in_force: Policy) -> None:
    """Art. 3(2): a version's announcement came early enough under the notice days of `in_force` (the
    version it replaces, whose terms promised the notice). Unannounced versions are internal overrides."""
    if version.announced_on is None:
        return
    deadline = term_change_announcement(version.effective_from, version.unfavourable, in_force)
    if not deadline.is_met_by(version.announced_on):
        days = (version.effective_from - version.announced_on).days
        kind = "an unfavourable" if version.unfavourable else "a"
        raise PolicyInvalid(
            f"announced {days} days before it applies; {kind} terms change needs announcing by "
            f"{deadline.on.isoformat()} ({deadline.clause})", field="announced_on")
