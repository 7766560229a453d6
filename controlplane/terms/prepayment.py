"""Annual prepayment (Art. 30(2)-3): a term's fees paid up front, billed once on the term's first month.

The amount is `12 x (monthly fee - agreed monthly discount) - agreed annual-prepay discount`: the server
fee is a monthly fee on a 1-year commitment (Art. 30(2)-1), the monthly discount is the one agreed in the
application (Art. 32(3)-2), and the annual-prepay discount is what Art. 20(7) takes back on early
termination. The fee runs for one year from the open date (Art. 32(1)), so a term opening mid-month is
billed the full amount on its opening month: no proration, the year simply ends mid-month too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from controlplane.terms.calendar import YearMonth
from controlplane.terms.clauses import Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.invoice import InvoiceLine
from controlplane.terms.money import Won, floor_won
from controlplane.terms.refund import MONTHS_PREPAID
from controlplane.terms.renewal import Term, next_term

ART_30_2_3 = Clause("Art. 30(2)-3")


@dataclass(frozen=True, slots=True)
class AnnualPrepayment:
    """What a term costs paid up front; `first`..`last` is the term it pays for."""

    amount: Won
    clause: Clause
    monthly_fee: Won
    monthly_discount: Won
    annual_discount: Won
    months: int
    first: date
    last: date


def annual_prepayment(
    monthly_fee: Won, monthly_discount: Won, annual_discount: Won, first: date, last: date
) -> AnnualPrepayment:
    """`12 x (monthly_fee - monthly_discount) - annual_discount` for the term `first`..`last`."""
    if monthly_fee < 0:
        raise TermsError("monthly fee must not be negative", field="monthly_fee")
    if not 0 <= monthly_discount <= monthly_fee:
        raise TermsError("discount must be between 0 and the monthly fee", field="discount")
    gross = MONTHS_PREPAID * (monthly_fee - monthly_discount)
    if not 0 <= annual_discount <= gross:
        raise TermsError(
            f"the annual-prepay discount must be between 0 and {gross:,} (12 discounted monthly fees)",
            field="annual_prepay_discount",
        )
    if last < first:
        raise TermsError("the term must not end before it starts", field="term_end")
    # Integers throughout, so the one floor (원 미만 절사) changes nothing; kept for the rule's sake.
    amount = floor_won(gross - annual_discount)
    return AnnualPrepayment(
        amount, ART_30_2_3, monthly_fee, monthly_discount, annual_discount, MONTHS_PREPAID, first, last
    )


def prepayment_line(prepayment: AnnualPrepayment, description: str = "cloud server") -> InvoiceLine:
    """The invoice line: its period is the term, so the refund (Art. 20(7)) can find what was prepaid."""
    p = prepayment
    text = (
        f"{description}: annual prepayment {p.first.isoformat()}..{p.last.isoformat()} "
        f"({p.months} x ({p.monthly_fee:,} - {p.monthly_discount:,}) - {p.annual_discount:,})"
    )
    return InvoiceLine(text, p.amount, p.clause, p.first, p.last)


def term_starting_in(month: YearMonth, current: Term, *, renews: bool) -> Term | None:
    """The term that begins in `month`, if any, given the contract's current term.

    When `renews` (no termination recorded), terms after the current one follow per Art. 18 exactly as
    the renewal job will make them, so a late renewal run cannot make a term's first invoice miss its
    prepayment. Terms before the current one are not reconstructed: invoicing never bills a month before
    the contract's current term start.
    """
    term = current
    while renews and term.last < month.last_day:  # the next term starts within or before `month`
        term = next_term(term)
    return term if YearMonth.of(term.first) == month else None
