"""Early-termination penalty (Art. 32(3), 17(3)): `60% x monthly_fee x remaining_months`.

`monthly_fee` is the average of the last 3 monthly fees before the termination month (fewer if the
contract is younger), after the agreed discount. Remaining months run from the day after the last day
of service through the contract's last day: a whole calendar month counts 1, a partial month
`days / days_in_that_month`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from controlplane.terms.calendar import YearMonth, add_days, split_by_month
from controlplane.terms.clauses import ART_17_3, ART_32_3, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.money import Won, floor_won
from controlplane.terms.policy import Policy


@dataclass(frozen=True, slots=True)
class Penalty:
    amount: Won
    clause: Clause
    reason: str
    fees_averaged: tuple[Won | Fraction, ...]
    average_monthly_fee: Fraction
    remaining_months: Fraction


def remaining_months(terminate_on: date, contract_end: date) -> Fraction:
    """Months from the day after `terminate_on` through `contract_end`, partial months by days."""
    spans = split_by_month(add_days(terminate_on, 1), contract_end)
    return sum((Fraction(s.days, s.month.days) for s in spans), Fraction(0))


def monthly_rate(
    month: YearMonth, rates: Sequence[tuple[date, Won]], first_day: date, last_day: date
) -> Fraction | None:
    """Art. 32(3): the monthly *rate* (after discount) that applied in `month`, never a prorated bill: the
    day-weighted average of the rates in force on the days of the month in service (`first_day` ..
    `last_day`); a first month used for 14 days counts its full rate. `rates` are (from, rate) pairs,
    oldest first. None when the contract was not in service that month."""
    first, last = max(first_day, month.first_day), min(last_day, month.last_day)
    if last < first or not rates:
        return None
    weighted, days = Fraction(0), 0
    for span_first, span_last, rate in _rate_spans(rates, first, last):
        span_days = (span_last - span_first).days + 1
        weighted += rate * span_days
        days += span_days
    return weighted / days if days else None


def _rate_spans(rates: Sequence[tuple[date, Won]], first: date, last: date) -> list[tuple[date, date, Won]]:
    spans: list[tuple[date, date, Won]] = []
    for index, (start, rate) in enumerate(rates):
        end = add_days(rates[index + 1][0], -1) if index + 1 < len(rates) else last
        lo, hi = max(start, first), min(end, last)
        if lo <= hi:
            spans.append((lo, hi, rate))
    if not spans or spans[0][0] > first:  # days before the first recorded rate take the first rate
        head_end = add_days(spans[0][0], -1) if spans else last
        spans.insert(0, (first, head_end, rates[0][1]))
    return spans


def average_monthly_fee(
    fees: Sequence[Won | Fraction], policy: Policy
) -> tuple[tuple[Won | Fraction, ...], Fraction]:
    """The last `penalty_fee_history_months` fees (oldest first in `fees`) and their exact average."""
    if not fees:
        raise TermsError(
            "at least one monthly fee before the termination month is needed", field="monthly_fees"
        )
    if any(f < 0 for f in fees):
        raise TermsError("monthly fees must not be negative", field="monthly_fees")
    used = tuple(fees[-policy.penalty_fee_history_months :])
    return used, Fraction(sum(used, Fraction(0))) / len(used)


def early_termination_penalty(
    monthly_fees: Sequence[Won | Fraction],
    terminate_on: date,
    contract_end: date,
    *,
    refused_fee_increase: bool = False,
    company_at_fault: bool = False,
    policy: Policy,
) -> Penalty:
    """Penalty for ending the contract after `terminate_on` (last day of service) before `contract_end`.

    `monthly_fees` are the monthly rates (`monthly_rate`) of the months before the termination month,
    oldest first, already net of the agreed discount (Art. 32(3)-2).
    """
    used, average = average_monthly_fee(monthly_fees, policy)
    months = remaining_months(terminate_on, contract_end)
    if refused_fee_increase:
        return Penalty(0, ART_17_3, "the customer refused a fee increase: no penalty", used, average, months)
    if company_at_fault:
        return Penalty(0, ART_32_3, "terminated for the company's fault: no penalty", used, average, months)
    if months == 0:
        return Penalty(0, ART_32_3, "no remaining term after the last day of service", used, average, months)
    amount = floor_won(policy.penalty_rate * average * months)
    reason = f"{policy.penalty_rate} x average monthly fee {average} x {months} remaining months"
    return Penalty(amount, ART_32_3, reason, used, average, months)
