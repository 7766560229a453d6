"""Bulk loading of what invoicing needs: a few queries per chunk of contracts, never one per contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from controlplane.models.billing import AddOn, FeePeriod, Invoice, InvoiceLine, LateFee
from controlplane.models.customer import BillingCycle, Contract, ContractState
from controlplane.models.enforcement import Termination
from controlplane.terms.calendar import YearMonth

# The invoice line kind recording what was prepaid for a term (period_from..period_to = the term); the
# Art. 20(7) refund and the next months' invoices read it back.
PREPAYMENT_KIND = "annual_prepayment"

# States in which a contract has (or had, this month) service to bill.
BILLABLE_STATES = (
    ContractState.ACTIVE,
    ContractState.RESTRICTED,
    ContractState.TERMINATING,
    ContractState.TERMINATED,
)


@dataclass(frozen=True, slots=True)
class UnbilledLateFee:
    id: int
    invoice_id: int
    amount: int


@dataclass
class ContractFacts:
    """One contract's billing facts, plain values only, so the computation is pure and fast."""

    contract_id: int
    customer_id: int
    plan: str
    terms_version: str
    billing_cycle: str
    monthly_fee: int
    discount: int
    term_start: date | None  # None until the service opens
    service_last_day: date | None  # the termination's effective day, if any
    # (from, fee, discount, plan); plan None: the previous period's
    fee_periods: list[tuple[date, int, int, str | None]] = field(default_factory=list)
    add_ons: list[AddOn] = field(default_factory=list)
    late_fees: list[UnbilledLateFee] = field(default_factory=list)
    term_end: date | None = None  # the current term's last day (Art. 18), None until the service opens
    annual_prepay_discount: int = 0  # agreed per prepaid term (Art. 30(2)-3, 20(7))
    prepaid_terms: set[date] = field(default_factory=set)  # first days of the terms already billed up front


def billable_contract_ids(session: Session, month: YearMonth) -> list[int]:
    """Contracts with service in `month` and no invoice for it yet (reruns skip the finished ones)."""
    invoiced = exists().where(
        and_(col(Invoice.contract_id) == col(Contract.id), col(Invoice.month) == month.first_day)
    )
    ended_before = exists().where(
        and_(
            col(Termination.contract_id) == col(Contract.id),
            col(Termination.effective_on) < month.first_day,
            *_in_effect(),
        )
    )
    # Art. 33(2): a terminated contract with something unpaid keeps getting statements (late fees).
    still_owing = exists().where(
        and_(
            col(Invoice.contract_id) == col(Contract.id),
            col(Invoice.paid_amount) < col(Invoice.total),
            col(Invoice.due_date) < month.last_day,
        )
    )
    # The service opened by the month's end: the first fee period is the open date. `term_start` alone is
    # the current term's first day, which a renewal (Art. 18) moves on: a term starting on the 1st renews
    # before that morning's run, and the month just ended must still be billed (simulation, seed
    # 1444545220: a contract opened 2027-05-01 and renewed 2028-05-01 never got its 2028-04 invoice).
    opened = or_(
        col(Contract.term_start) <= month.last_day,
        exists().where(
            and_(
                col(FeePeriod.contract_id) == col(Contract.id),
                col(FeePeriod.effective_from) <= month.last_day,
            )
        ),
    )
    query = (
        select(Contract.id)
        .where(col(Contract.state).in_(BILLABLE_STATES), col(Contract.term_start).is_not(None))
        .where(opened, ~invoiced, ~ended_before | still_owing)
        .order_by(col(Contract.id))
    )
    return [i for i in session.exec(query).all() if i is not None]


def _in_effect() -> tuple[Any, ...]:
    """A termination ends billing only once it is decided: confirmed (a customer's own request is at once)
    and not withdrawn; a proposal awaiting its second operator changes nothing yet."""
    return (col(Termination.confirmed_by).is_not(None), col(Termination.withdrawn_at).is_(None))


def _among(column: Any, contract_ids: list[int]) -> Any:
    """`column BETWEEN min AND max`: a chunk of ascending ids without a 2,000-parameter IN list (whose
    parsing dominated the run); rows of contracts in the range but not asked for are dropped below."""
    return col(column).between(min(contract_ids), max(contract_ids))


def load_facts(session: Session, contract_ids: list[int]) -> dict[int, ContractFacts]:
    """Facts of the given contracts in five queries."""
    if not contract_ids:
        return {}
    facts = _contracts(session, contract_ids)
    for contract_id, first, fee, discount, plan in session.execute(
        sa_select(
            col(FeePeriod.contract_id),
            col(FeePeriod.effective_from),
            col(FeePeriod.monthly_fee),
            col(FeePeriod.discount),
            col(FeePeriod.plan),
        )
        .where(_among(FeePeriod.contract_id, contract_ids))
        .order_by(col(FeePeriod.contract_id), col(FeePeriod.effective_from))
    ).all():
        if contract_id in facts:
            facts[contract_id].fee_periods.append((first, fee, discount, plan))
    for add_on in session.exec(
        select(AddOn).where(_among(AddOn.contract_id, contract_ids)).order_by(col(AddOn.id))
    ).all():
        if add_on.contract_id in facts:
            facts[add_on.contract_id].add_ons.append(add_on)
    for fee_id, invoice_id, amount, contract_id in session.exec(
        select(LateFee.id, LateFee.invoice_id, LateFee.amount, Invoice.contract_id)
        .join(Invoice, col(Invoice.id) == col(LateFee.invoice_id))
        .where(_among(Invoice.contract_id, contract_ids), col(LateFee.billed_on_invoice_id).is_(None))
        .where(col(LateFee.amount) > 0)  # a row of 0 only marks days that bore nothing
        .order_by(col(LateFee.id))
    ).all():
        if contract_id in facts:
            facts[contract_id].late_fees.append(UnbilledLateFee(fee_id or 0, invoice_id, amount))
    _load_prepaid_terms(session, facts)
    return facts


def _load_prepaid_terms(session: Session, facts: dict[int, ContractFacts]) -> None:
    """Which terms of the chunk's annually prepaid contracts were already billed (Art. 30(2)-3); asked
    only when the chunk has such contracts, so monthly billing pays nothing for it."""
    annual = [f.contract_id for f in facts.values() if f.billing_cycle == BillingCycle.ANNUAL_PREPAID]
    if not annual:
        return
    for contract_id, first in session.exec(
        select(col(Invoice.contract_id), col(InvoiceLine.period_from))
        .join(InvoiceLine, col(InvoiceLine.invoice_id) == col(Invoice.id))
        .where(_among(Invoice.contract_id, annual), InvoiceLine.kind == PREPAYMENT_KIND)
    ).all():
        if first is not None and contract_id in facts:
            facts[contract_id].prepaid_terms.add(first)


def _contracts(session: Session, contract_ids: list[int]) -> dict[int, ContractFacts]:
    ends: dict[int, date] = dict(
        session.exec(  # type: ignore[arg-type]
            select(col(Termination.contract_id), col(Termination.effective_on)).where(
                _among(Termination.contract_id, contract_ids), *_in_effect()
            )
        ).all()
    )
    rows = session.execute(
        sa_select(
            col(Contract.id),
            col(Contract.customer_id),
            col(Contract.plan),
            col(Contract.terms_version),
            col(Contract.billing_cycle),
            col(Contract.monthly_fee),
            col(Contract.discount),
            col(Contract.term_start),
            col(Contract.term_end),
            col(Contract.annual_prepay_discount),
        ).where(_among(Contract.id, contract_ids))
    ).all()
    wanted = set(contract_ids)
    return {
        cid: ContractFacts(
            cid,
            customer_id,
            plan,
            version,
            cycle,
            fee,
            discount,
            start,
            ends.get(cid),
            term_end=end,
            annual_prepay_discount=prepay_discount,
        )
        for cid, customer_id, plan, version, cycle, fee, discount, start, end, prepay_discount in rows
        if cid in wanted
    }
