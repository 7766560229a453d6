"""Restrictions other than nonpayment (Art. 16(4),(5), 21(4)): how long, and when termination may follow.

An operator restricts for at most 1 month; the customer must cure within 1 month after the restriction
period; if it does not, ex-officio termination is allowed but needs an operator's confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from controlplane.terms.calendar import add_months
from controlplane.terms.clauses import ART_16_4, ART_21_4, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.policy import DEFAULT_POLICY, Policy


def latest_restriction_end(start: date, policy: Policy = DEFAULT_POLICY) -> date:
    """Art. 16(4): a restriction lasts at most `restriction_max_months` from the day it starts."""
    return add_months(start, policy.restriction_max_months)


def check_restriction_period(start: date, planned_end: date, policy: Policy = DEFAULT_POLICY) -> Clause:
    """Accepts a planned end within the allowed period; raises naming `planned_end` otherwise."""
    if planned_end < start:
        raise TermsError("a restriction cannot end before it starts", field="planned_end")
    latest = latest_restriction_end(start, policy)
    if planned_end > latest:
        raise TermsError(
            f"a restriction lasts at most {policy.restriction_max_months} month(s): "
            f"it may end on {latest.isoformat()} at the latest, not {planned_end.isoformat()}",
            field="planned_end",
        )
    return ART_16_4


def cure_deadline(restriction_end: date, policy: Policy = DEFAULT_POLICY) -> date:
    """Art. 16(5): the customer cures within `cure_period_months` after the restriction period."""
    return add_months(restriction_end, policy.cure_period_months)


@dataclass(frozen=True, slots=True)
class CureDecision:
    eligible_for_termination: bool
    clause: Clause
    deadline: date
    reason: str


def decide_cure(restriction_end: date, as_of: date, *, cured: bool,
                policy: Policy = DEFAULT_POLICY) -> CureDecision:
    """Art. 21(4): eligible for ex-officio termination once uncured past the cure deadline."""
    deadline = cure_deadline(restriction_end, policy)
    eligible = not cured and as_of > deadline
    reason = (f"the cause of the restriction that ended {restriction_end.isoformat()} was not resolved by "
              f"{deadline.isoformat()}; termination needs an operator's confirmation") if eligible else (
              f"cure deadline {deadline.isoformat()}")
    return CureDecision(eligible, ART_21_4, deadline, reason)
