"""Restrictions other than nonpayment (Art. 16(4),(5), 21(4)): at most 1 month, then 1 month to cure.

An unresolved cause after the cure period makes the contract eligible for ex-officio termination, which
an operator must confirm (the terms say the company *may* terminate, Art. 21(4)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from controlplane.terms.actions import Action, ActionKind, NoticeKind
from controlplane.terms.calendar import add_days, add_months
from controlplane.terms.clauses import ART_16_4, ART_21_4, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.policy import Policy

ITEMS = range(1, 19)  # Art. 16(4)-1 .. 16(4)-18


def item_clause(item: int) -> Clause:
    if item not in ITEMS:
        raise TermsError("Art. 16(4) has items 1 to 18", field="item")
    return Clause(f"Art. 16(4)-{item}")


def latest_restriction_end(start: date, policy: Policy) -> date:
    """Art. 16(4): a restriction is set for a period of at most 1 month."""
    return add_months(start, policy.restriction_max_months)


def check_restriction_period(start: date, planned_end: date, policy: Policy) -> date:
    """`planned_end` if the period is allowed; TermsError naming `planned_end` otherwise."""
    latest = latest_restriction_end(start, policy)
    if planned_end < start:
        raise TermsError("the restriction must not end before it starts", field="planned_end")
    if planned_end > latest:
        raise TermsError(
            f"a restriction under {ART_16_4} lasts at most until {latest.isoformat()}", field="planned_end"
        )
    return planned_end


def cure_deadline(planned_end: date, policy: Policy) -> date:
    """Art. 16(5): the customer resolves the cause within 1 month after the restriction period."""
    return add_months(planned_end, policy.cure_period_months)


@dataclass(frozen=True, slots=True)
class RestrictionFacts:
    block_id: str
    contract_id: str
    item: int
    started_on: date
    planned_end: date
    resolved: bool
    as_of: date


def decide_uncured_restriction(facts: RestrictionFacts, policy: Policy) -> list[Action]:
    """Art. 21(4): after the cure period an unresolved restriction is listed for termination."""
    deadline = cure_deadline(facts.planned_end, policy)
    if facts.resolved or facts.as_of <= deadline:
        return []
    reason = (
        f"restriction under {item_clause(facts.item)} (ended {facts.planned_end.isoformat()}) "
        f"not resolved by {deadline.isoformat()}"
    )
    key = f"contract:{facts.contract_id}:block:{facts.block_id}:uncured"
    allowed = add_days(deadline, 1)
    counting = (
        f"{policy.cure_period_months} month(s) to cure after the restriction period ending "
        f"{facts.planned_end.isoformat()}: through {deadline.isoformat()} (Civil Act Art. 157, 160); "
        f"acts on {allowed.isoformat()}"
    )
    return [
        Action(ActionKind.TERMINATE, ART_21_4, reason, allowed, key, automatic=False, counting=counting),
        Action(
            ActionKind.NOTIFY,
            ART_21_4,
            reason,
            allowed,
            f"{key}:notice",
            automatic=False,
            notice=NoticeKind.TERMINATION_ELIGIBLE,
            counting=counting,
        ),
    ]
