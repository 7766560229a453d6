"""Withholding approval (Art. 8): automatic checks 8(6), 8(7), 8(9) plus operator-entered reasons."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from controlplane.terms.clauses import Clause


class HoldReason(StrEnum):
    NOT_REAL_NAME = "not_real_name"  # 8(1)
    OTHERS_NAME = "others_name"  # 8(2)
    FALSE_APPLICATION = "false_application"  # 8(3)
    ATTACK_HISTORY = "attack_history"  # 8(4)
    ILLEGAL_SITE = "illegal_site"  # 8(5)
    UNPAID_ELSEWHERE = "unpaid_elsewhere"  # 8(6)
    DELINQUENCY_RECORD = "delinquency_record"  # 8(7)
    COMPANY_CIRCUMSTANCES = "company_circumstances"  # 8(8)
    MINOR = "minor"  # 8(9)


_ITEM = {reason: n for n, reason in enumerate(HoldReason, start=1)}


def hold_clause(reason: HoldReason) -> Clause:
    return Clause(f"Art. 8({_ITEM[reason]})")


@dataclass(frozen=True, slots=True)
class ApplicantFacts:
    """What the store knows about the applicant when an application is reviewed."""

    unpaid_on_other_services: int = 0
    has_delinquency_record: bool = False
    is_minor: bool = False


@dataclass(frozen=True, slots=True)
class Hold:
    reason: HoldReason
    clause: Clause
    automatic: bool


def automatic_holds(facts: ApplicantFacts) -> list[Hold]:
    """The holds the system finds on its own (8(6), 8(7), 8(9))."""
    found = []
    if facts.unpaid_on_other_services > 0:
        found.append(HoldReason.UNPAID_ELSEWHERE)
    if facts.has_delinquency_record:
        found.append(HoldReason.DELINQUENCY_RECORD)
    if facts.is_minor:
        found.append(HoldReason.MINOR)
    return [Hold(r, hold_clause(r), True) for r in found]


def review_application(facts: ApplicantFacts, operator_reasons: Iterable[HoldReason] = ()) -> list[Hold]:
    """Every reason to withhold approval; empty means approve in order of receipt (Art. 7(1))."""
    holds = automatic_holds(facts)
    seen = {h.reason for h in holds}
    for reason in operator_reasons:
        if reason not in seen:
            holds.append(Hold(reason, hold_clause(reason), False))
            seen.add(reason)
    return holds
