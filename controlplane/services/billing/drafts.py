"""One contract's invoice for a month, computed purely from its facts with the terms' functions.

The same function serves the monthly run and the dry-run preview, so the preview shows exactly what
would be billed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache

from controlplane.models.customer import BillingCycle
from controlplane.services.billing.facts import PREPAYMENT_KIND, ContractFacts
from controlplane.services.billing.fee_periods import fee_from
from controlplane.terms.calendar import YearMonth
from controlplane.terms.clauses import ART_34, ART_35_1, Clause
from controlplane.terms.invoice import (
    AddOnBilling,
    AddOnPeriod,
    InvoiceDraft,
    InvoiceLine,
    PlanPeriod,
    add_on_lines,
    draft_invoice,
    plan_lines,
)
from controlplane.terms.policy import Policy
from controlplane.terms.prepayment import annual_prepayment, prepayment_line, term_starting_in
from controlplane.terms.renewal import Term


@dataclass(frozen=True, slots=True)
class ExtraLine:
    """A line computed outside billing (e.g. the SLA credit of Art. 36): negative for a credit."""

    kind: str
    description: str
    amount: int
    clause: Clause
    taxable: bool = True


@dataclass(frozen=True, slots=True)
class ContractInvoice:
    contract_id: int
    customer_id: int
    draft: InvoiceDraft
    kinds: tuple[str, ...]  # one per draft line: plan, annual_prepayment, add_on, late_fee, credit, extras
    late_fee_ids: tuple[int, ...]
    credit_used: int


# Plans and prices are few, contracts many: the same (month, periods) or (month, lines) recurs across
# thousands of contracts, and the exact Fraction arithmetic is the run's main CPU cost. Pure, so cached.
_cached_plan_lines = lru_cache(maxsize=65536)(lambda month, periods: tuple(plan_lines(month, periods)))
_cached_add_on_lines = lru_cache(maxsize=65536)(lambda month, add_ons: tuple(add_on_lines(month, add_ons)))
_cached_draft = lru_cache(maxsize=65536)(
    lambda month, lines, policy: draft_invoice(month, (), (), lines, policy=policy)
)


def plan_periods(facts: ContractFacts) -> list[PlanPeriod]:
    """Fee periods cut at each plan change (Art. 32(2)); the contract's own fee when none are recorded."""
    if facts.term_start is None:
        return []
    changes = facts.fee_periods or [(facts.term_start, facts.monthly_fee, facts.discount, None)]
    # The service began on the first fee period (the open date), not on the current term's start: a
    # renewal (Art. 18) starts a new term mid-month, and the days before it were used and billed too.
    opened = changes[0][0]
    periods = []
    for index, (first, fee, discount, _) in enumerate(changes):
        following = changes[index + 1][0] if index + 1 < len(changes) else None
        last = following - timedelta(days=1) if following is not None else facts.service_last_day
        if facts.service_last_day is not None and last is not None:
            last = min(last, facts.service_last_day)
        plan = plan_on(facts, first)
        periods.append(PlanPeriod(fee, max(first, opened), last, discount, plan))
    return periods


def add_on_periods(facts: ContractFacts) -> list[AddOnPeriod]:
    """Add-ons end with the contract at the latest (Art. 20(3))."""
    periods = []
    for a in facts.add_ons:
        last = _earliest(a.ended_on, facts.service_last_day)
        periods.append(AddOnPeriod(a.name, AddOnBilling(a.billing), a.fee, a.started_on, last))
    return periods


def fee_on(facts: ContractFacts, day: date) -> tuple[int, int]:
    """(monthly fee, agreed discount) in force on `day`, by the rule `fee_in_force` reads the store with."""
    periods = [(first, fee, discount) for first, fee, discount, _ in facts.fee_periods]  # by effective_from
    return fee_from(periods, day, (facts.monthly_fee, facts.discount))


def plan_on(facts: ContractFacts, day: date) -> str:
    """The plan in force on `day`: the latest period naming one on or before it, else the contract's
    (a change dated later has already renamed the contract, never the days before it)."""
    plan = None
    for first, _, _, period_plan in facts.fee_periods:
        if first > day:
            break
        plan = period_plan or plan
    return plan or facts.plan


def _current_term(facts: ContractFacts, policy: Policy) -> Term | None:
    if facts.term_start is None or facts.term_end is None:
        return None
    return Term(facts.term_start, facts.term_end, 12 * policy.base_term_years)


def _ends_early(facts: ContractFacts, term: Term) -> bool:
    """True when the service is known to end inside `term`, before its last day."""
    last = facts.service_last_day
    return last is not None and term.first <= last < term.last


def prepayment_lines(facts: ContractFacts, month: YearMonth, policy: Policy) -> list[InvoiceLine]:
    """Art. 30(2)-3: an annually prepaid term is billed once, in full, on the invoice of its first month,
    at the fee in force on its first day; a renewed term (Art. 18) the same way. A term already known to
    end early when that invoice is made is not prepaid: it is billed month by month (`unprepaid_periods`).
    """
    current = _current_term(facts, policy)
    if current is None:
        return []
    term = term_starting_in(month, current, renews=facts.service_last_day is None)
    if term is None or term.first in facts.prepaid_terms or _ends_early(facts, term):
        return []
    if facts.service_last_day is not None and term.first > facts.service_last_day:
        return []
    fee, discount = fee_on(facts, term.first)
    prepayment = annual_prepayment(fee, discount, facts.annual_prepay_discount, term.first, term.last)
    return [prepayment_line(prepayment, plan_on(facts, term.first))]


def unprepaid_periods(facts: ContractFacts, policy: Policy) -> list[PlanPeriod]:
    """The plan periods of an annually prepaid contract's last term when it ends early and was never
    prepaid (the termination came before the term's first invoice): the days used are billed at the
    monthly fee (Art. 32(2),(4)), as the annual-prepay discount belongs to a prepaid year only."""
    current = _current_term(facts, policy)
    if current is None or not _ends_early(facts, current) or current.first in facts.prepaid_terms:
        return []
    return [
        replace(p, first=max(p.first, current.first))
        for p in plan_periods(facts)
        if p.last is None or p.last >= current.first
    ]


def _earliest(a: date | None, b: date | None) -> date | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def compute_invoice(
    facts: ContractFacts,
    month: YearMonth,
    policy: Policy,
    *,
    credit_available: int = 0,
    extra: Sequence[ExtraLine] = (),
) -> ContractInvoice | None:
    """The invoice for `month`, or None when there is nothing to bill."""
    # Annual prepaid plans are settled by their prepayment (Art. 30(2)-3), not month by month.
    annual = facts.billing_cycle == BillingCycle.ANNUAL_PREPAID
    periods = unprepaid_periods(facts, policy) if annual else plan_periods(facts)
    lines: list[InvoiceLine] = list(_cached_plan_lines(month, tuple(periods)))
    kinds = ["plan"] * len(lines)
    for line in prepayment_lines(facts, month, policy) if annual else ():
        lines.append(line)
        kinds.append(PREPAYMENT_KIND)
    for line in _cached_add_on_lines(month, tuple(add_on_periods(facts))):
        lines.append(line)
        kinds.append("add_on")
    for fee in facts.late_fees:
        lines.append(InvoiceLine(f"late fee on invoice {fee.invoice_id}", fee.amount, ART_34, taxable=False))
        kinds.append("late_fee")
    for x in extra:
        lines.append(InvoiceLine(x.description, x.amount, x.clause, taxable=x.taxable))
        kinds.append(x.kind)
    if not lines:
        return None
    draft = _cached_draft(month, tuple(lines), policy)
    used = min(credit_available, draft.total) if draft.total > 0 else 0
    if used > 0:
        # Art. 35: credit from an overpayment offsets the invoice after VAT, so it is not taxable.
        lines.append(InvoiceLine("credit applied", -used, ART_35_1, taxable=False))
        kinds.append("credit")
        draft = _cached_draft(month, tuple(lines), policy)
    late_ids = tuple(f.id for f in facts.late_fees)
    return ContractInvoice(facts.contract_id, facts.customer_id, draft, tuple(kinds), late_ids, used)
