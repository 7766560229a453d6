"""Invoice for month M (Art. 30-32): prorated lines, supply amount, VAT shown separately, send-by and due.

Invoice for M is sent by the 10th of M+1 and due on the last day of M+1 (Art. 31(1)); a start, plan
change or end inside M is prorated by day (Art. 32(2),(4)); VAT is 10% of the supply amount (Art. 32(5)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from controlplane.terms.calendar import YearMonth
from controlplane.terms.clauses import ART_31_1, ART_32_5, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.money import Won, floor_won
from controlplane.terms.policy import Policy
from controlplane.terms.proration import prorate

SERVER_FEE = Clause("Art. 30(2)-1, Art. 32(4)")
ADD_ON_MONTHLY = Clause("Art. 30(2)-2, Art. 32(4)")
ADD_ON_ONE_OFF = Clause("Art. 30(2)-2")


@dataclass(frozen=True, slots=True)
class PlanPeriod:
    """A stretch of the contract at one plan: `first`..`last` inclusive, `last=None` while it runs."""

    monthly_fee: Won
    first: date
    last: date | None = None
    discount: Won = 0
    description: str = "cloud server"


class AddOnBilling(StrEnum):
    ONE_OFF = "one_off"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class AddOnPeriod:
    """An add-on; one-off ones are billed in the month of `first`, monthly ones prorated like the plan."""

    name: str
    billing: AddOnBilling
    fee: Won
    first: date
    last: date | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    amount: Won
    clause: Clause
    first: date | None = None
    last: date | None = None
    taxable: bool = True


@dataclass(frozen=True, slots=True)
class InvoiceDraft:
    month: YearMonth
    lines: tuple[InvoiceLine, ...]
    supply_amount: Won
    vat: Won
    untaxed_amount: Won
    total: Won
    vat_clause: Clause
    send_by: date
    due: date
    dates_clause: Clause


def invoice_dates(month: YearMonth, policy: Policy) -> tuple[date, date]:
    """(send-by, due) for the invoice of `month`: the 10th and the last day of the next month."""
    following = month.next()
    return following.first_day.replace(day=policy.invoice_send_by_day), following.last_day


def vat_on(supply: Won, policy: Policy) -> Won:
    """Art. 32(5): VAT on the supply amount, floored; no VAT on a supply that is nil or a credit."""
    return floor_won(policy.vat_rate * supply) if supply > 0 else 0


def _overlap(month: YearMonth, first: date, last: date | None) -> tuple[date, date] | None:
    lo = max(first, month.first_day)
    hi = month.last_day if last is None else min(last, month.last_day)
    return (lo, hi) if lo <= hi else None


def plan_lines(month: YearMonth, periods: Sequence[PlanPeriod]) -> list[InvoiceLine]:
    lines = []
    for p in periods:
        if p.discount < 0 or p.discount > p.monthly_fee:
            raise TermsError("discount must be between 0 and the monthly fee", field="discount")
        span = _overlap(month, p.first, p.last)
        if span is None:
            continue
        net = p.monthly_fee - p.discount
        text = p.description if not p.discount else f"{p.description} ({p.monthly_fee:,} - {p.discount:,})"
        lines.append(InvoiceLine(text, prorate(net, *span).amount, SERVER_FEE, *span))
    return lines


def add_on_lines(month: YearMonth, add_ons: Sequence[AddOnPeriod]) -> list[InvoiceLine]:
    lines = []
    for a in add_ons:
        if a.fee < 0:
            raise TermsError("add-on fee must not be negative", field="fee")
        if a.billing is AddOnBilling.ONE_OFF:
            if YearMonth.of(a.first) == month:
                lines.append(InvoiceLine(a.name, a.fee, ADD_ON_ONE_OFF, a.first, a.first))
            continue
        span = _overlap(month, a.first, a.last)
        if span is not None:
            lines.append(InvoiceLine(a.name, prorate(a.fee, *span).amount, ADD_ON_MONTHLY, *span))
    return lines


def draft_invoice(
    month: YearMonth,
    plan_periods: Sequence[PlanPeriod],
    add_ons: Sequence[AddOnPeriod] = (),
    adjustments: Sequence[InvoiceLine] = (),
    *,
    policy: Policy,
) -> InvoiceDraft:
    """The invoice for `month`; `adjustments` are lines computed elsewhere (credits, late fees)."""
    lines = (*plan_lines(month, plan_periods), *add_on_lines(month, add_ons), *adjustments)
    supply = sum(line.amount for line in lines if line.taxable)
    untaxed = sum(line.amount for line in lines if not line.taxable)
    vat = vat_on(supply, policy)
    send_by, due = invoice_dates(month, policy)
    return InvoiceDraft(
        month, lines, supply, vat, untaxed, supply + vat + untaxed, ART_32_5, send_by, due, ART_31_1
    )
