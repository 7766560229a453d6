"""The fee in force on a day or in a month, read from the contract's fee periods (Art. 32(2)).

`Contract.monthly_fee`, `discount` and `plan` are the latest agreed: a plan change or an accepted fee
increase dated later writes them when it is recorded. Anything that needs the fee of a given day (an SLA
credit, a fee-increase proposal) reads it here instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from fractions import Fraction

from sqlmodel import Session, col, select

from controlplane.models.billing import FeePeriod
from controlplane.models.customer import Contract
from controlplane.terms.calendar import YearMonth
from controlplane.terms.money import Won
from controlplane.terms.penalty import monthly_rate


def fee_periods(session: Session, contract_id: int) -> list[FeePeriod]:
    query = select(FeePeriod).where(FeePeriod.contract_id == contract_id)
    return list(session.exec(query.order_by(col(FeePeriod.effective_from))).all())


def fee_from(periods: Sequence[tuple[date, Won, Won]], day: date, none: tuple[Won, Won]) -> tuple[Won, Won]:
    """(monthly fee, agreed discount) on `day` from (effective_from, fee, discount), oldest first: the
    latest from on or before it; the first for a day before any (there was no service before it: the
    first period starts on the open date, TERMS-MAP 2), `none` when there is no period."""
    if not periods:
        return none
    fee, discount = periods[0][1], periods[0][2]
    for first, period_fee, period_discount in periods:
        if first > day:
            break
        fee, discount = period_fee, period_discount
    return fee, discount


def fee_in_force(session: Session, contract: Contract, day: date) -> tuple[Won, Won]:
    """(monthly fee, agreed discount) on `day` (`fee_from`), the contract's own fee when none is recorded."""
    periods = [(p.effective_from, p.monthly_fee, p.discount) for p in fee_periods(session, contract.id or 0)]
    return fee_from(periods, day, (contract.monthly_fee, contract.discount))


def net_rates(session: Session, contract: Contract) -> list[tuple[date, Won]]:
    """(effective_from, monthly fee after the agreed discount) of each fee period, oldest first: what
    `terms.penalty.monthly_rate` reads."""
    return [
        (p.effective_from, max(0, p.monthly_fee - p.discount)) for p in fee_periods(session, contract.id or 0)
    ]


def month_rate(session: Session, contract: Contract, month: YearMonth) -> Won | Fraction:
    """The monthly fee after the agreed discount that applied in `month`: the day-weighted rate when it
    changed inside the month (TERMS-MAP 2: "a month's monthly fee"), never a change dated later."""
    rates = net_rates(session, contract)
    if not rates:
        return max(0, contract.monthly_fee - contract.discount)
    rate = monthly_rate(month, rates, rates[0][0], month.last_day)
    return rate if rate is not None else rates[0][1]  # a month before the first period: its rate


def keep_fee_before(
    session: Session, contract: Contract, day: date, *, monthly_fee: Won | None = None
) -> None:
    """Billing reads the fee from its periods once any exists: before a change from `day` is recorded on a
    contract with no period before it, its current fee (`monthly_fee` when given: the fee it was agreed
    to replace) is kept from its first day, under its plan."""
    earlier = session.exec(
        select(FeePeriod.id).where(FeePeriod.contract_id == contract.id, col(FeePeriod.effective_from) < day)
    ).first()
    first = contract.term_start or contract.desired_open_date
    if earlier is None and first < day:
        session.add(
            FeePeriod(
                contract_id=contract.id or 0,
                effective_from=first,
                monthly_fee=contract.monthly_fee if monthly_fee is None else monthly_fee,
                discount=contract.discount,
                plan=contract.plan,
            )
        )


def changes_after(session: Session, contract_id: int, day: date) -> bool:
    """True when a fee period starts after `day`: the contract's own fee is that later one's."""
    query = select(FeePeriod.id).where(
        FeePeriod.contract_id == contract_id, col(FeePeriod.effective_from) > day
    )
    return session.exec(query).first() is not None
