"""Art. 32(3): the early-termination penalty averages monthly *rates*, never prorated bills."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.db import session_scope
from controlplane.models.billing import FeePeriod
from controlplane.schemas.enforcement import TerminationCreate
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.enforcement import terminations as termination_service
from controlplane.terms.calendar import YearMonth
from tests.utils.factories import make_world, noon


def test_penalty_counts_a_partly_used_first_month_at_its_full_rate(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    with session_scope(engine) as session:
        contract, _ = make_world(session, servers=0)
        contract.term_start, contract.term_end = date(2027, 1, 18), date(2028, 1, 17)
        session.add(contract)
        session.add(
            FeePeriod(
                contract_id=contract.id or 0,
                effective_from=date(2027, 1, 18),
                monthly_fee=100_000,
                discount=0,
            )
        )
        contract_id = contract.id or 0
    for month in (YearMonth(2027, 1), YearMonth(2027, 2)):  # January is billed 14/31 of the fee
        generate_invoices(engine, month=month, as_of=month.next().first_day, now=noon(month.next().first_day))
    with Session(engine) as session:
        request = TerminationCreate(kind="customer_request", reason="moving", effective_on=date(2027, 3, 15))
        termination = termination_service.request_termination(
            session,
            contract_id=contract_id,
            now=noon(date(2027, 3, 1)),
            actor="billing:park",
            request=request,
        )
        # Jan (14 days used) and Feb both count 100,000: average 100,000, not (45,161 + 100,000) / 2.
        # Remaining after 2027-03-15: Mar 16..31 = 16/31, Apr..Dec = 9, Jan 1..17 = 17/31 -> 9 + 33/31
        # 0.6 x 100,000 x (9 + 33/31) = 540,000 + 63,870.96 = 603,870
        assert termination.penalty == 603_870
    engine.dispose()


def test_a_first_month_termination_is_penalised_at_the_rate_used_not_a_later_plan_change(
    sqlite_engine: Engine,
) -> None:
    from controlplane.schemas.contracts import PlanChange
    from controlplane.services.contracts.lifecycle import change_plan

    with session_scope(sqlite_engine) as session:
        contract, _ = make_world(session, servers=0)
        contract.term_start, contract.term_end = date(2027, 3, 1), date(2028, 2, 29)
        session.add(contract)
        session.add(
            FeePeriod(contract_id=contract.id or 0, effective_from=date(2027, 3, 1), monthly_fee=100_000)
        )
        contract_id = contract.id or 0
    with Session(sqlite_engine) as session:
        later = PlanChange(effective_from=date(2027, 4, 1), monthly_fee=300_000)
        change_plan(session, now=noon(date(2027, 3, 2)), actor="billing", contract_id=contract_id, data=later)
        request = TerminationCreate(kind="customer_request", reason="moving", effective_on=date(2027, 3, 31))
        termination = termination_service.request_termination(
            session,
            contract_id=contract_id,
            now=noon(date(2027, 3, 10)),
            actor="billing:park",
            request=request,
        )
        # Remaining after 2027-03-31: Apr 2027 .. Feb 2028 = 11 months; 0.6 x 100,000 x 11.
        assert termination.penalty == 660_000
