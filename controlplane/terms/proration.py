"""Daily proration (Art. 32(2),(4)): `fee x days_used / days_in_month`, each calendar month on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from controlplane.terms.calendar import MonthSpan, split_by_month
from controlplane.terms.clauses import ART_32_4, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.money import Won, exact, floor_won


@dataclass(frozen=True, slots=True)
class ProratedMonth:
    """One month's share: `monthly_fee x days / days_in_month`, kept exact."""

    span: MonthSpan
    exact_amount: Fraction


@dataclass(frozen=True, slots=True)
class Proration:
    amount: Won
    clause: Clause
    monthly_fee: Won
    first: date
    last: date
    months: tuple[ProratedMonth, ...]


def prorated_exact(monthly_fee: Won | Fraction, first: date, last: date) -> tuple[ProratedMonth, ...]:
    """Exact per-month shares of `monthly_fee` for the inclusive range; a whole month is the whole fee."""
    fee = exact(monthly_fee)
    return tuple(
        ProratedMonth(span, fee * span.days / span.month.days) for span in split_by_month(first, last)
    )


def prorate(monthly_fee: Won, first: date, last: date) -> Proration:
    """The fee for use from `first` through `last` (both inclusive), summed exactly, floored once."""
    if monthly_fee < 0:
        raise TermsError("monthly fee must not be negative", field="monthly_fee")
    if last < first:
        raise TermsError("the last day must not be before the first day", field="last")
    months = prorated_exact(monthly_fee, first, last)
    total = sum((m.exact_amount for m in months), Fraction(0))
    return Proration(floor_won(total), ART_32_4, monthly_fee, first, last, months)
