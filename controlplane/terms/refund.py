"""Annual-prepay refund (Art. 20(7)): `prepaid - fee_for_period_used - annual_discount - penalty`, >= 0.

The period used is priced at the prepaid monthly rate (`prepaid / 12`), a partial calendar month by days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from controlplane.terms.clauses import ART_20_7, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.money import Won, floor_won
from controlplane.terms.proration import prorated_exact

MONTHS_PREPAID = 12


@dataclass(frozen=True, slots=True)
class Refund:
    amount: Won
    clause: Clause
    prepaid: Won
    fee_for_period_used: Fraction
    annual_discount: Won
    penalty: Won
    start: date
    terminate_on: date


def annual_prepay_refund(
    prepaid: Won, annual_discount: Won, start: date, terminate_on: date, penalty: Won = 0
) -> Refund:
    """Refund when an annually prepaid contract ends after `terminate_on` (used `start`..`terminate_on`)."""
    for name, value in (("prepaid", prepaid), ("annual_discount", annual_discount), ("penalty", penalty)):
        if value < 0:
            raise TermsError(f"{name} must not be negative", field=name)
    if terminate_on < start:
        raise TermsError("the last day of service must not be before the start", field="terminate_on")
    monthly_rate = Fraction(prepaid, MONTHS_PREPAID)
    used = sum((m.exact_amount for m in prorated_exact(monthly_rate, start, terminate_on)), Fraction(0))
    amount = max(0, floor_won(prepaid - used - annual_discount - penalty))
    return Refund(amount, ART_20_7, prepaid, used, annual_discount, penalty, start, terminate_on)
