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

from controlplane.terms.calendar import add_days, split_by_month
from controlplane.terms.clauses import ART_17_3, ART_32_3, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.money import Won, floor_won
from controlplane.terms.policy import Policy


@dataclass(frozen=True, slots=True)
class Penalty:
    amount: Won
    clause: Clause
    reason: str
    fees_averaged: tuple[Won, ...]
    average_monthly_fee: Fraction
    remaining_months: Fraction


def remaining_months(terminate_on: date, contract_end: date) -> Fraction:
    """Months from the day after `terminate_on` through `contract_end`, partial months by days."""
    spans = split_by_month(add_days(terminate_on, 1), contract_end)
    return sum((Fraction(s.days, s.month.days) for s in spans), Fraction(0))


def average_monthly_fee(
    fees: Sequence[Won], policy: Policy
) -> tuple[tuple[Won, ...], Fraction]:
    """The last `penalty_fee_history_months` fees (oldest first in `fees`) and their exact average."""
    if not fees:
        raise TermsError("at least one monthly fee before the termination month is needed",
                         field="monthly_fees")
    if any(f < 0 for f in fees):
        raise TermsError("monthly fees must not be negative", field="monthly_fees")
    used = tuple(fees[-policy.penalty_fee_history_months:])
    return used, Fraction(sum(used), len(used))


def early_termination_penalty(
    monthly_fees: Sequence[Won],
    terminate_on: date,
    contract_end: date,
    *,
    refused_fee_increase: bool = False,
    company_at_fault: bool = False,
    policy: Policy,
) -> Penalty:
    """Penalty for ending the contract after `terminate_on` (last day of service) before `contract_end`.

    `monthly_fees` are the fees actually charged for the months before the termination month, oldest
    first, already net of the agreed discount (Art. 32(3)-2).
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
