"""What a termination costs or gives back: the Art. 32(3) early-termination penalty (monthly rates,
never prorated bills; Art. 20(4) for faults, none after a refused fee increase, Art. 17(3)) and the
Art. 20(7) annual-prepay refund, from what was really prepaid."""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction

from sqlmodel import Session, col, select

from controlplane.models.billing import Invoice, InvoiceLine
from controlplane.models.customer import BillingCycle, Contract
from controlplane.models.enforcement import Termination
from controlplane.services.billing.facts import PREPAYMENT_KIND
from controlplane.services.billing.fee_periods import net_rates
from controlplane.terms.calendar import YearMonth
from controlplane.terms.lifecycle import TerminationKind
from controlplane.terms.money import floor_won
from controlplane.terms.penalty import early_termination_penalty, monthly_rate
from controlplane.terms.policy import Policy
from controlplane.terms.refund import annual_prepay_refund

_K = TerminationKind


def settlement_amounts(
    session: Session, contract: Contract, last_day: date, refused_fee_increase: bool, policy: Policy
) -> tuple[int, int]:
    """Penalty (Art. 32(3), none after a refused fee increase, 17(3)) and annual-prepay refund (20(7))."""
    if contract.term_end is None or last_day >= contract.term_end:
        return 0, 0
    fees = _recent_plan_fees(session, contract, last_day, policy)
    penalty = early_termination_penalty(
        fees, last_day, contract.term_end, refused_fee_increase=refused_fee_increase, policy=policy
    ).amount
    if contract.billing_cycle != BillingCycle.ANNUAL_PREPAID or contract.term_start is None:
        return penalty, 0
    prepaid = _prepaid_for_term(session, contract)
    if prepaid == 0:  # nothing prepaid for this term: no refund; what is owed stays owed (Art. 20(2))
        return penalty, 0
    refund = annual_prepay_refund(
        prepaid, contract.annual_prepay_discount, contract.term_start, last_day, penalty
    ).amount
    return penalty, refund


def _prepaid_for_term(session: Session, contract: Contract, paid_by: datetime | None = None) -> int:
    """Art. 20(7): what was really prepaid for the current term: its prepayment line (Art. 30(2)-3), once
    the invoice carrying it is paid in full; billed but unpaid is arrears, not a prepayment. `paid_by`
    replays the decision: only what was paid when the refund was computed counts."""
    query = (
        select(InvoiceLine.amount)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(
            Invoice.contract_id == contract.id,
            InvoiceLine.kind == PREPAYMENT_KIND,
            InvoiceLine.period_from == contract.term_start,
            col(Invoice.paid_in_full_at).is_not(None),
        )
    )
    if paid_by is not None:
        query = query.where(col(Invoice.paid_in_full_at) <= paid_by)
    return sum(int(amount) for amount in session.exec(query).all())


def billable_penalty(session: Session, contract: Contract, termination: Termination) -> int:
    """The Art. 32(3) penalty still to invoice: Art. 20(7) already took the penalty out of an annual
    prepayment's refund, so only the part the unused prepayment could not cover is billed (else the
    customer would pay it twice). Recomputed from the decision's own facts, floored once at the end."""
    if termination.penalty <= 0:
        return 0
    if contract.billing_cycle != BillingCycle.ANNUAL_PREPAID or contract.term_start is None:
        return termination.penalty
    prepaid = _prepaid_for_term(session, contract, paid_by=termination.requested_at)
    if prepaid == 0:
        return termination.penalty
    unused = annual_prepay_refund(
        prepaid, contract.annual_prepay_discount, contract.term_start, termination.effective_on
    )
    covered = max(Fraction(0), prepaid - unused.fee_for_period_used - contract.annual_prepay_discount)
    return max(0, floor_won(termination.penalty - covered))


def _recent_plan_fees(
    session: Session, contract: Contract, last_day: date, policy: Policy
) -> list[int | Fraction]:
    """Art. 32(3): the monthly *rates* (net of the agreed discount) of the last months of service before
    the termination month, oldest first; a month with a fee change averages its rates by day, and a
    partly used first month counts its full rate (never a prorated bill)."""
    rates = net_rates(session, contract)
    if not rates:
        return [max(0, contract.monthly_fee - contract.discount)]
    start = rates[0][0]  # the open date: earlier terms' months count too
    month = YearMonth.of(last_day)
    # Ended in its first month: the rate it was used at, never a plan change dated after its last day.
    used = monthly_rate(month, rates, start, last_day)
    current = used if used is not None else rates[0][1]
    found: list[int | Fraction] = []
    cursor = month.previous()
    while cursor >= YearMonth.of(start) and len(found) < policy.penalty_fee_history_months:
        rate = monthly_rate(cursor, rates, start, cursor.last_day)
        if rate is not None:
            found.insert(0, rate)
        cursor = cursor.previous()
    return found or [current]


def fault_penalty(session: Session, contract: Contract, termination: Termination, policy: Policy) -> int:
    """Art. 20(4), 32(3): a termination caused by the customer's fault (ex officio, nonpayment) bears the
    early-termination penalty when the policy says so; insolvency (Art. 20(5)) bears none automatically."""
    at_fault = termination.kind in (_K.EX_OFFICIO, _K.NONPAYMENT, _K.CURE_FAILED)
    if not at_fault or not policy.penalty_on_ex_officio:
        return termination.penalty
    return settlement_amounts(session, contract, termination.effective_on, False, policy)[0]
