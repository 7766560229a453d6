"""Availability credit (Art. 36, 37): counted outages, the cap at the monthly fee, the 3-month claim
window, and the credit as a negative line on the next invoice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.db import session_scope
from controlplane.errors import InvalidInput
from controlplane.models import InvoiceLine, Outage
from controlplane.schemas.enforcement import OutageCreate
from controlplane.services.enforcement import availability as service
from controlplane.terms.calendar import YearMonth
from tests.utils.factories import make_world

MARCH = YearMonth(2027, 3)
START = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)


def contract(engine: Engine) -> int:
    with session_scope(engine) as session:
        made, _ = make_world(session, servers=0, monthly_fee=310_000)
        return made.id or 0


def outage(contract_id: int, start: datetime, hours: float, **kw: object) -> OutageCreate:
    fields: dict[str, object] = {
        "contract_id": contract_id,
        "started_at": start,
        "reported_at": start,
        "resolved_at": start + timedelta(hours=hours),
        "cause_learned_at": start,
    }
    fields.update(kw)
    return OutageCreate(**fields)  # type: ignore[arg-type]


def test_credit_is_a_daily_fee_per_day_past_5_percent_and_never_above_the_monthly_fee(engine: Engine) -> None:
    contract_id = contract(engine)
    with Session(engine) as session:
        service.record_outage(
            session, data=outage(contract_id, START - timedelta(days=2), 24 * 40), now=START, actor="op"
        )
        whole_month = service.availability(session, contract_id=contract_id, month=MARCH)
    assert whole_month.availability_percent == 0
    assert whole_month.amount == 10_000 * len(whole_month.credited_days) <= 310_000


def test_excluded_and_short_outages_do_not_count(engine: Engine) -> None:
    contract_id = contract(engine)
    with Session(engine) as session:
        service.record_outage(
            session, data=outage(contract_id, START, 48, excluded_reason="maintenance"), now=START, actor="op"
        )
        service.record_outage(
            session, data=outage(contract_id, START + timedelta(days=5), 0.4), now=START, actor="op"
        )
        service.record_outage(
            session,
            data=outage(contract_id, START + timedelta(days=9), 48, company_fault=False),
            now=START,
            actor="op",
        )
        credit = service.availability(session, contract_id=contract_id, month=MARCH)
    assert credit.amount == 0 and credit.availability_percent == 100


def test_claim_within_3_months_becomes_a_negative_line_on_the_next_invoice(engine: Engine) -> None:
    contract_id = contract(engine)
    with Session(engine) as session:
        service.record_outage(session, data=outage(contract_id, START, 24 * 3), now=START, actor="op")
        with pytest.raises(InvalidInput):
            service.claim_credit(
                session,
                contract_id=contract_id,
                month=MARCH,
                actor="billing",
                now=datetime(2027, 6, 2, 3, tzinfo=UTC),
            )
    with Session(engine) as session:
        amount = service.claim_credit(
            session,
            contract_id=contract_id,
            month=MARCH,
            actor="billing",
            now=datetime(2027, 5, 30, 3, tzinfo=UTC),
        )
    assert amount > 0
    from controlplane.services.billing.invoicing import generate_invoices

    generate_invoices(
        engine, month=YearMonth(2027, 5), as_of=date(2027, 6, 1), now=datetime(2027, 6, 1, 1, tzinfo=UTC)
    )
    with Session(engine) as session:
        lines = session.exec(select(InvoiceLine).where(InvoiceLine.kind == "sla_credit")).all()
        assert [line.amount for line in lines] == [-amount]
        assert session.exec(select(Outage)).one().credited_on_invoice_id == lines[0].invoice_id


def test_claim_lapses_3_months_after_the_cause_arose_even_if_learned_later(engine: Engine) -> None:
    # Art. 37(2), second sentence: learned 2027-04-15 (window to 07-15), but the cause arose 03-01: the
    # earlier limit, 2027-06-01, wins.
    contract_id = contract(engine)
    learned = datetime(2027, 4, 15, 3, tzinfo=UTC)
    with Session(engine) as session:
        service.record_outage(
            session, data=outage(contract_id, START, 24 * 3, cause_learned_at=learned), now=START, actor="op"
        )
        with pytest.raises(InvalidInput) as refused:
            service.claim_credit(
                session,
                contract_id=contract_id,
                month=MARCH,
                actor="billing",
                now=datetime(2027, 6, 10, 3, tzinfo=UTC),
            )
    assert "2027-06-01" in refused.value.message
    with Session(engine) as session:
        assert (
            service.claim_credit(
                session,
                contract_id=contract_id,
                month=MARCH,
                actor="billing",
                now=datetime(2027, 5, 31, 3, tzinfo=UTC),
            )
            > 0
        )


def test_editing_when_the_cause_was_learned_never_reopens_a_lapsed_claim(engine: Engine) -> None:
    from controlplane.schemas.enforcement import OutageUpdate

    contract_id = contract(engine)
    with Session(engine) as session:
        recorded = service.record_outage(
            session, data=outage(contract_id, START, 24 * 3), now=START, actor="op"
        )
        later = datetime(2027, 6, 5, 3, tzinfo=UTC)
        service.update_outage(
            session,
            outage_id=recorded.id or 0,
            data=OutageUpdate(cause_learned_at=later),
            now=later,
            actor="op",
        )
        with pytest.raises(InvalidInput):
            service.claim_credit(
                session,
                contract_id=contract_id,
                month=MARCH,
                actor="billing",
                now=datetime(2027, 6, 10, 3, tzinfo=UTC),
            )


def test_the_credit_uses_the_months_own_fee_not_a_plan_change_dated_later(engine: Engine) -> None:
    from controlplane.schemas.contracts import PlanChange
    from controlplane.services.contracts.lifecycle import change_plan

    contract_id = contract(engine)
    with Session(engine) as session:
        later = PlanChange(effective_from=date(2027, 5, 1), monthly_fee=620_000)
        change_plan(session, now=START, actor="billing", contract_id=contract_id, data=later)
        service.record_outage(
            session, data=outage(contract_id, START - timedelta(days=2), 24 * 40), now=START, actor="op"
        )
        credit = service.availability(session, contract_id=contract_id, month=MARCH)
    assert credit.amount == 10_000 * len(credit.credited_days)  # 310,000 / 31, not 620,000 / 31
