"""Late fee (Art. 34): `unpaid x 15/1000 x 12 x overdue_days / 365`, counted from the day after due."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from controlplane.terms.clauses import ART_34, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.money import Won, floor_won
from controlplane.terms.policy import Policy


@dataclass(frozen=True, slots=True)
class LateFee:
    amount: Won
    clause: Clause
    unpaid: Won
    due: date
    paid_on: date
    overdue_days: int


def overdue_days(due: date, paid_on: date) -> int:
    """Art. 34(3): the day after the due date is the first overdue day; paying on the due date is on time."""
    return max(0, (paid_on - due).days)


def late_fee_for_days(unpaid: Won, days: int, policy: Policy) -> Won:
    """The Art. 34(2) formula for a number of overdue days, floored once."""
    if unpaid < 0:
        raise TermsError("unpaid amount must not be negative", field="unpaid")
    if days < 0:
        raise TermsError("overdue days must not be negative", field="days")
    annual = policy.late_fee_rate_monthly * policy.late_fee_months_per_year
    return floor_won(unpaid * annual * days / policy.late_fee_days_per_year)


def late_fee(unpaid: Won, due: date, paid_on: date, policy: Policy) -> LateFee:
    """Late fee on `unpaid`, due on `due`, paid on `paid_on`."""
    days = overdue_days(due, paid_on)
    return LateFee(late_fee_for_days(unpaid, days, policy), ART_34, unpaid, due, paid_on, days)


def accrued_exactly(segments: Sequence[tuple[Won, int]], policy: Policy) -> Fraction:
    """Art. 34 over segments of (unpaid principal, overdue days), exact: floored once by the caller."""
    annual = policy.late_fee_rate_monthly * policy.late_fee_months_per_year
    return sum((Fraction(p) * annual * d / policy.late_fee_days_per_year for p, d in segments), Fraction(0))


def late_fee_increment(
    earlier: Sequence[tuple[Won, int]], billed: Won, principal: Won, days: int, policy: Policy
) -> Won:
    """What a new segment adds so that the invoice's late fees stay floored once in total: the floored
    exact sum of every segment, less what the earlier segments already charged."""
    if principal < 0 or days < 0:
        raise TermsError("principal and days must not be negative", field="days")
    return max(0, floor_won(accrued_exactly([*earlier, (principal, days)], policy)) - billed)
