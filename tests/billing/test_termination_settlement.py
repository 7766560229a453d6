"""Settling a customer's early termination: the Art. 32(3) penalty billed once, untaxed, on the invoice of
the month holding the last day of service; the Art. 20(7) refund credited once when the contract has
ended, with its notice; paid out on request with arrears deducted first (Art. 35).

Monthly contract used below (factory defaults): 100,000 KRW a month, term 2027-01-01..2027-12-31.
Terminated on request on 2027-06-01 with last day 2027-06-30: no plan fee billed before June in these
tests, so the penalty's monthly fee is the contract's own 100,000 (Art. 32(3)-2); remaining months
Jul..Dec = 6 whole months; penalty = 0.6 x 100,000 x 6 = 360,000 KRW.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.models import Contract, CreditEntry, Customer, FeePeriod, Invoice, InvoiceLine, Notice
from controlplane.schemas.enforcement import TerminationCreate
from controlplane.schemas.payments import PaymentCreate
from controlplane.services.billing.credits import credit_balance
from controlplane.services.billing.invoicing import generate_invoices, preview_invoice
from controlplane.services.billing.payments import record_payment
from controlplane.services.enforcement import sweep as enforcement
from controlplane.services.enforcement.termination_effects import complete_termination
from controlplane.services.enforcement.terminations import request_termination
from controlplane.terms.calendar import YearMonth
from tests.utils.api import make_api
from tests.utils.workflows import refused_fee_increase as refused_fee_increase_of

MakeCustomer = Callable[..., Customer]
MakeContract = Callable[..., Contract]
PENALTY = 360_000
PLAN_LINE = ("plan", 100_000, "Art. 30(2)-1, Art. 32(4)")  # a whole month of the monthly fee


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)  # noon in Seoul


def run(engine: Engine, month: str) -> int:
    ym = YearMonth.parse(month)
    return generate_invoices(engine, month=ym, as_of=ym.next().first_day, now=at(ym.next().first_day)).created


def lines_of(engine: Engine, contract_id: int, month: str) -> list[tuple[str, int, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(InvoiceLine.kind, InvoiceLine.amount, InvoiceLine.clause)
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(Invoice.contract_id == contract_id, Invoice.month == YearMonth.parse(month).first_day)
            .order_by(col(InvoiceLine.id))
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def invoice_of(engine: Engine, contract_id: int, month: str) -> Invoice | None:
    with Session(engine) as session:
        return session.exec(
            select(Invoice).where(
                Invoice.contract_id == contract_id, Invoice.month == YearMonth.parse(month).first_day
            )
        ).first()


def terminate(
    engine: Engine,
    contract_id: int,
    *,
    refused_fee_increase: bool = False,
    today: date = date(2027, 6, 1),
    last_day: date = date(2027, 6, 30),
) -> tuple[int, int]:
    if refused_fee_increase:
        refused_fee_increase_of(engine, contract_id)
    with Session(engine) as session:
        t = request_termination(
            session,
            contract_id=contract_id,
            now=at(today),
            actor="test",
            request=TerminationCreate(
                kind="customer_request",
                reason="moving",
                effective_on=last_day,
                refused_fee_increase=refused_fee_increase,
            ),
        )
        return t.penalty, t.refund


def sweep(engine: Engine, day: date) -> list[str]:
    with Session(engine) as session:
        actions = enforcement.plan(session, day, now=at(day))
    enforcement.apply(engine, actions, day, "system:sweep", now=at(day))
    return [a.kind for a in actions]


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Every case on SQLite and on a private PostgreSQL database."""
    return request.getfixturevalue(f"{request.param}_engine")  # type: ignore[no-any-return]


@pytest.fixture
def monthly(engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract) -> int:
    with Session(engine) as session:
        contract = contract_factory(session, customer_factory(session))
        session.commit()
        return contract.id or 0


def test_penalty_is_billed_untaxed_on_the_month_of_the_last_day(engine: Engine, monthly: int) -> None:
    assert terminate(engine, monthly) == (PENALTY, 0)

    run(engine, "2027-05")
    run(engine, "2027-06")

    assert lines_of(engine, monthly, "2027-05") == [PLAN_LINE]
    assert lines_of(engine, monthly, "2027-06") == [PLAN_LINE, ("penalty", PENALTY, "Art. 32(3)")]
    june = invoice_of(engine, monthly, "2027-06")
    # VAT only on the supply (Art. 32(5)): 10% x 100,000 = 10,000; the penalty is compensation, like the
    # late fee: total = 100,000 + 10,000 + 360,000 = 470,000.
    assert june is not None
    assert (june.supply_amount, june.vat_amount, june.total) == (100_000, 10_000, 470_000)
    # Service ended on 30 June: July bills no plan and no second penalty; only the late fee on what is
    # still unpaid keeps accruing (Art. 33(2), 34).
    run(engine, "2027-07")
    assert {kind for kind, *_ in lines_of(engine, monthly, "2027-07")} <= {"late_fee"}


def test_penalty_is_billed_once_across_reruns(engine: Engine, monthly: int) -> None:
    terminate(engine, monthly)

    assert (run(engine, "2027-06"), run(engine, "2027-06")) == (1, 0)

    with Session(engine) as session:
        penalties = session.exec(select(InvoiceLine.amount).where(InvoiceLine.kind == "penalty")).all()
    assert penalties == [PENALTY]


def test_preview_shows_the_penalty_the_run_bills(engine: Engine, monthly: int) -> None:
    terminate(engine, monthly)
    with Session(engine) as session:
        preview = preview_invoice(session, contract_id=monthly, month=YearMonth(2027, 6))

    run(engine, "2027-06")

    assert preview is not None and preview.kinds == ("plan", "penalty")
    penalty = preview.draft.lines[1]
    assert (penalty.amount, str(penalty.clause), penalty.taxable) == (PENALTY, "Art. 32(3)", False)
    june = invoice_of(engine, monthly, "2027-06")
    assert june is not None and preview.draft.total == june.total == 470_000


def test_no_penalty_line_after_a_refused_fee_increase(engine: Engine, monthly: int) -> None:
    # Art. 17(3): terminating because the customer refused a fee increase costs no penalty.
    assert terminate(engine, monthly, refused_fee_increase=True) == (0, 0)

    run(engine, "2027-06")

    assert lines_of(engine, monthly, "2027-06") == [PLAN_LINE]
    june = invoice_of(engine, monthly, "2027-06")
    assert june is not None and june.total == 110_000


# The annually prepaid contract of test_annual_prepay: 100,000 a month less 10,000 agreed discount,
# 108,000 off for prepaying, term 2027-03-15..2028-03-14; prepayment 12 x 90,000 - 108,000 = 972,000,
# total with VAT 1,069,200, paid on 2027-04-20. Terminated on 2027-06-01, last day 2027-06-30:
# penalty 0.6 x 90,000 x (8 + 14/31) = 456,387.09 -> 456,387; period used at 81,000 a month =
# 17/31 x 81,000 + 3 x 81,000 = 287,419.35; refund = 972,000 - 287,419.35 - 108,000 - 456,387
# = 120,193.65 -> 120,193 (Art. 20(7)).
PREPAID_PENALTY, REFUND = 456_387, 120_193


@pytest.fixture
def prepaid(engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract) -> int:
    """The annually prepaid contract, its March prepayment invoiced but not yet paid."""
    with Session(engine) as session:
        contract = contract_factory(
            session,
            customer_factory(session),
            billing_cycle="annual_prepaid",
            discount=10_000,
            annual_prepay_discount=108_000,
            desired_open_date=date(2027, 3, 15),
            term_start=date(2027, 3, 15),
            term_end=date(2028, 3, 14),
        )
        session.add(
            FeePeriod(
                contract_id=contract.id or 0,
                effective_from=date(2027, 3, 15),
                monthly_fee=100_000,
                discount=10_000,
            )
        )
        session.commit()
        contract_id = contract.id or 0
    run(engine, "2027-03")
    return contract_id


def pay_march(engine: Engine, contract_id: int) -> None:
    payment = PaymentCreate(customer_id=customer_of(engine, contract_id), amount=1_069_200)
    with Session(engine) as session:
        record_payment(session, now=at(date(2027, 4, 20)), actor="test", key="march", data=payment)


@pytest.fixture
def annual(engine: Engine, prepaid: int) -> int:
    """Prepaid, paid, and terminated as described above."""
    pay_march(engine, prepaid)
    assert terminate(engine, prepaid) == (PREPAID_PENALTY, REFUND)
    return prepaid


def customer_of(engine: Engine, contract_id: int) -> int:
    with Session(engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        return contract.customer_id


def refund_entries(engine: Engine) -> list[tuple[int, str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(CreditEntry.amount, CreditEntry.reason, CreditEntry.clause).where(
                CreditEntry.reason == "refund"
            )
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def refund_notices(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Notice.channel, Notice.kind, Notice.clause)
            .where(Notice.kind == "refund")
            .order_by(col(Notice.channel))
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_prepaid_penalty_taken_from_the_refund_is_not_invoiced_again(engine: Engine, annual: int) -> None:
    # Art. 20(7) already deducted the penalty: the unused prepayment 972,000 - 287,419.35 - 108,000
    # = 576,580.65 covers all of 456,387, so June carries nothing (no add-ons either): no invoice.
    assert run(engine, "2027-06") == 0
    assert invoice_of(engine, annual, "2027-06") is None


def test_prepaid_penalty_beyond_the_unused_prepayment_is_invoiced(engine: Engine, prepaid: int) -> None:
    pay_march(engine, prepaid)
    # Last day 2028-01-31: penalty 0.6 x 90,000 x (1 + 14/31) = 78,387.09 -> 78,387. Used 17/31 x 81,000
    # + 10 x 81,000 = 854,419.35; unused after the annual discount 972,000 - 854,419.35 - 108,000
    # = 9,580.65 absorbs part of the penalty (refund 0); billed 78,387 - 9,580.65 = 68,806.35 -> 68,806.
    assert terminate(engine, prepaid, today=date(2027, 12, 1), last_day=date(2028, 1, 31)) == (78_387, 0)

    run(engine, "2028-01")

    assert lines_of(engine, prepaid, "2028-01") == [("penalty", 68_806, "Art. 32(3)")]
    january = invoice_of(engine, prepaid, "2028-01")
    assert january is not None and (january.supply_amount, january.vat_amount, january.total) == (
        0,
        0,
        68_806,
    )


def test_an_unpaid_prepayment_absorbs_nothing_even_if_paid_later(engine: Engine, prepaid: int) -> None:
    # Unpaid when decided (10 April): refund 0 and the whole penalty is owed; paying March afterwards
    # (on time, 20 April, so no late fee) does not change what the decision settled.
    assert terminate(engine, prepaid, today=date(2027, 4, 10)) == (PREPAID_PENALTY, 0)
    pay_march(engine, prepaid)

    run(engine, "2027-06")

    assert lines_of(engine, prepaid, "2027-06") == [("penalty", PREPAID_PENALTY, "Art. 32(3)")]


def test_refund_is_credited_once_when_the_termination_completes(engine: Engine, annual: int) -> None:
    sweep(engine, date(2027, 6, 30))
    assert refund_entries(engine) == []  # still in service on its last day

    kinds = sweep(engine, date(2027, 7, 1)) + sweep(engine, date(2027, 7, 2))
    sweep(engine, date(2027, 7, 3))  # a rerun after completion changes nothing

    assert "complete_termination" in kinds
    with Session(engine) as session:
        contract = session.get(Contract, annual)
        assert contract is not None and contract.state == "terminated"
        assert complete_termination(session, contract, at=at(date(2027, 7, 4)), actor="test") is False
        session.commit()
    assert refund_entries(engine) == [(REFUND, "refund", "Art. 20(7)")]
    with Session(engine) as session:
        assert credit_balance(session, customer_of(engine, annual)) == REFUND
    # One notice per registered channel (e-mail and SMS), queued in the completion's transaction.
    assert refund_notices(engine) == [("email", "refund", "Art. 20(7)"), ("sms", "refund", "Art. 20(7)")]


def test_refund_on_request_deducts_arrears_first(
    engine: Engine, annual: int, contract_factory: MakeContract
) -> None:
    customer_id = customer_of(engine, annual)
    with Session(engine) as session:
        customer = session.get(Customer, customer_id)
        other = contract_factory(session, customer).id or 0
        session.commit()
    run(engine, "2027-05")  # the other contract's May: 100,000 + 10% VAT = 110,000, due 2027-06-30
    sweep(engine, date(2027, 7, 1))
    sweep(engine, date(2027, 7, 2))
    assert refund_entries(engine) == [(REFUND, "refund", "Art. 20(7)")]
    # Art. 35(3): credit is money paid. The refund credit settled the overdue 110,000 the moment it arose
    # (paid 2 days late: 110,000 x 15/1000 x 12 x 2/365 = 108.49 -> 108 late fee, Art. 34, billed next).
    may = invoice_of(engine, other, "2027-05")
    assert may is not None and may.paid_in_full_at is not None
    api = make_api(engine)
    api.clock.now = at(date(2027, 7, 10))

    response = api.call("POST", f"/v1/customers/{customer_id}/refunds", role="billing", json={})

    # What is left, 120,193 - 110,000 = 10,193, is paid out; nothing was still in arrears.
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in ("arrears_deducted", "refunded", "credit_balance")} == {
        "arrears_deducted": 0,
        "refunded": 10_193,
        "credit_balance": 0,
    }
