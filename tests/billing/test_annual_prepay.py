"""Annual prepayment (Art. 30(2)-3): billed once per term on its first month, its refund (Art. 20(7)).

The contract used throughout: 100,000 KRW a month less an agreed 10,000 monthly discount, 108,000 KRW
agreed off for prepaying the year, opened mid-month on 2027-03-15, so the term runs 2027-03-15..2028-03-14.
Prepayment = 12 x (100,000 - 10,000) - 108,000 = 1,080,000 - 108,000 = 972,000 KRW;
VAT 10% = 97,200 (Art. 32(5)); total 1,069,200. The full amount falls on March 2027: Art. 32(1) counts
the fee for one year from the open date, so the year simply ends mid-March 2028 and nothing is prorated.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.models import AddOn, Contract, Customer, FeePeriod, Invoice, InvoiceLine
from controlplane.schemas.enforcement import TerminationCreate
from controlplane.schemas.payments import PaymentCreate
from controlplane.services.billing.invoicing import generate_invoices, preview_invoice
from controlplane.services.billing.payments import record_payment
from controlplane.services.contracts.renewal import renew_contracts
from controlplane.services.enforcement.terminations import request_termination
from controlplane.terms.calendar import YearMonth
from tests.utils.api import Api, make_api

MakeCustomer = Callable[..., Customer]
MakeContract = Callable[..., Contract]
PREPAYMENT = 972_000
TERM = (date(2027, 3, 15), date(2028, 3, 14))


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)  # noon in Seoul


def run(engine: Engine, month: str) -> int:
    ym = YearMonth.parse(month)
    return generate_invoices(engine, month=ym, as_of=ym.next().first_day, now=at(ym.next().first_day)).created


def lines_of(engine: Engine, contract_id: int, month: str) -> list[tuple[str, int, date | None, date | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(InvoiceLine.kind, InvoiceLine.amount, InvoiceLine.period_from, InvoiceLine.period_to)
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(Invoice.contract_id == contract_id, Invoice.month == YearMonth.parse(month).first_day)
            .order_by(col(InvoiceLine.id))
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def invoice_of(engine: Engine, contract_id: int, month: str) -> Invoice:
    with Session(engine) as session:
        return session.exec(
            select(Invoice).where(
                Invoice.contract_id == contract_id, Invoice.month == YearMonth.parse(month).first_day
            )
        ).one()


@pytest.fixture
def annual(sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract) -> int:
    """The annually prepaid contract described above, with its opening fee period."""
    with Session(sqlite_engine) as session:
        contract = contract_factory(
            session,
            customer_factory(session),
            billing_cycle="annual_prepaid",
            monthly_fee=100_000,
            discount=10_000,
            annual_prepay_discount=108_000,
            desired_open_date=TERM[0],
            term_start=TERM[0],
            term_end=TERM[1],
        )
        session.add(
            FeePeriod(
                contract_id=contract.id or 0, effective_from=TERM[0], monthly_fee=100_000, discount=10_000
            )
        )
        session.commit()
        return contract.id or 0


def test_prepayment_is_billed_in_full_on_the_month_the_term_opens(sqlite_engine: Engine, annual: int) -> None:
    run(sqlite_engine, "2027-03")

    invoice = invoice_of(sqlite_engine, annual, "2027-03")
    assert lines_of(sqlite_engine, annual, "2027-03") == [("annual_prepayment", PREPAYMENT, *TERM)]
    assert (invoice.supply_amount, invoice.vat_amount, invoice.total) == (972_000, 97_200, 1_069_200)
    # Art. 31(1): the March invoice is sent by 10 April and due on the last day of April.
    assert (invoice.send_by, invoice.due_date) == (date(2027, 4, 10), date(2027, 4, 30))
    with Session(sqlite_engine) as session:
        clause = session.exec(select(InvoiceLine.clause).where(InvoiceLine.kind == "annual_prepayment")).one()
    assert clause == "Art. 30(2)-3"


def test_the_following_eleven_months_carry_add_ons_but_no_plan_line(
    sqlite_engine: Engine, annual: int
) -> None:
    with Session(sqlite_engine) as session:
        session.add(
            AddOn(contract_id=annual, name="backup", billing="monthly", fee=10_000, started_on=TERM[0])
        )
        session.commit()
    months = [str(YearMonth(2027, m)) for m in range(3, 13)] + ["2028-01", "2028-02"]

    for month in months:
        run(sqlite_engine, month)
        paid_up(sqlite_engine)  # unpaid invoices would rightly carry late fees (Art. 34)

    # March: backup 10,000 x 17/31 = 5,483.87 -> 5,483 beside the prepayment; then 10,000 a month only.
    assert [(kind, amount) for kind, amount, *_ in lines_of(sqlite_engine, annual, "2027-03")] == [
        ("annual_prepayment", PREPAYMENT),
        ("add_on", 5_483),
    ]
    for month in months[1:]:
        assert [(kind, amount) for kind, amount, *_ in lines_of(sqlite_engine, annual, month)] == [
            ("add_on", 10_000)
        ], month


def paid_up(engine: Engine) -> None:
    """Every invoice paid in full on time (the tests here are about what is billed, not late fees)."""
    with session_scope(engine) as session:
        for invoice in session.exec(select(Invoice)).all():
            if invoice.paid_amount < invoice.total:
                invoice.paid_amount, invoice.paid_in_full_at = invoice.total, invoice.issued_at
                session.add(invoice)


def test_without_add_ons_the_months_between_prepayments_have_no_invoice(
    sqlite_engine: Engine, annual: int
) -> None:
    created = []
    for month in ("2027-03", "2027-04", "2027-12", "2028-02"):
        created.append(run(sqlite_engine, month))
        paid_up(sqlite_engine)  # an unpaid prepayment would rightly carry late fees (Art. 34)
    assert created == [1, 0, 0, 0]


def test_reruns_bill_the_prepayment_once(sqlite_engine: Engine, annual: int) -> None:
    assert (run(sqlite_engine, "2027-03"), run(sqlite_engine, "2027-03")) == (1, 0)

    with Session(sqlite_engine) as session:
        kinds = session.exec(select(InvoiceLine.kind)).all()
    assert kinds == ["annual_prepayment"]


def test_a_renewed_term_is_prepaid_on_its_own_first_month_at_the_fee_then_in_force(
    sqlite_engine: Engine, annual: int
) -> None:
    with Session(sqlite_engine) as session:
        session.add(FeePeriod(contract_id=annual, effective_from=date(2028, 3, 15), monthly_fee=120_000))
        session.commit()
    run(sqlite_engine, "2027-03")
    paid_up(sqlite_engine)
    renewed = renew_contracts(sqlite_engine, as_of=date(2028, 3, 15), now=at(date(2028, 3, 15)))

    run(sqlite_engine, "2028-03")

    # Art. 18: same term again, 2028-03-15..2029-03-14, same 108,000 annual discount;
    # 12 x (120,000 - 0) - 108,000 = 1,332,000.
    assert renewed.renewed == [annual]
    assert lines_of(sqlite_engine, annual, "2028-03") == [
        ("annual_prepayment", 1_332_000, date(2028, 3, 15), date(2029, 3, 14))
    ]


def test_a_late_renewal_run_does_not_lose_the_next_terms_prepayment(
    sqlite_engine: Engine, annual: int
) -> None:
    # The renewal job has not run yet when March 2028 is invoiced: the term Art. 18 will make is billed.
    run(sqlite_engine, "2028-03")
    renew_contracts(sqlite_engine, as_of=date(2028, 4, 2), now=at(date(2028, 4, 2)))

    assert lines_of(sqlite_engine, annual, "2028-03") == [
        ("annual_prepayment", PREPAYMENT, date(2028, 3, 15), date(2029, 3, 14))
    ]
    with Session(sqlite_engine) as session:
        contract = session.get(Contract, annual)
        assert contract is not None and contract.term_start == date(2028, 3, 15)


def pay_march(engine: Engine, contract_id: int) -> None:
    with Session(engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        record_payment(
            session,
            now=at(date(2027, 4, 20)),
            actor="test",
            key="march",
            data=PaymentCreate(customer_id=contract.customer_id, amount=1_069_200),
        )


def terminate(engine: Engine, contract_id: int, *, today: date, last_day: date) -> tuple[int, int]:
    with Session(engine) as session:
        t = request_termination(
            session,
            contract_id=contract_id,
            now=at(today),
            actor="test",
            request=TerminationCreate(kind="customer_request", reason="moving", effective_on=last_day),
        )
        return t.penalty, t.refund


def test_early_termination_refunds_from_the_recorded_prepayment(sqlite_engine: Engine, annual: int) -> None:
    run(sqlite_engine, "2027-03")
    pay_march(sqlite_engine, annual)

    penalty, refund = terminate(sqlite_engine, annual, today=date(2027, 6, 1), last_day=date(2027, 6, 30))

    # Penalty (Art. 32(3)): no plan fees billed, so the discounted monthly fee 90,000; remaining
    # Jul 2027..Feb 2028 = 8 months + Mar 1..14 = 14/31 -> 262/31; 0.6 x 90,000 x 262/31 = 456,387.09
    # -> 456,387. Refund (Art. 20(7)): prepaid 972,000 at 81,000 a month; used Mar 15..31 = 17/31 x
    # 81,000 = 44,419.35 plus Apr..Jun 243,000 = 287,419.35; 972,000 - 287,419.35 - 108,000 - 456,387
    # = 120,193.65 -> 120,193. (The old assumption, 12 x 100,000 prepaid, would have refunded more.)
    assert (penalty, refund) == (456_387, 120_193)


def test_an_unpaid_prepayment_is_refunded_nothing(sqlite_engine: Engine, annual: int) -> None:
    run(sqlite_engine, "2027-03")

    penalty, refund = terminate(sqlite_engine, annual, today=date(2027, 6, 1), last_day=date(2027, 6, 30))

    assert (penalty, refund) == (456_387, 0)
    assert invoice_of(sqlite_engine, annual, "2027-03").paid_in_full_at is None  # still owed (Art. 20(2))


def test_a_term_ending_before_its_first_invoice_is_billed_by_the_day_not_prepaid(
    sqlite_engine: Engine, annual: int
) -> None:
    _, refund = terminate(sqlite_engine, annual, today=date(2027, 3, 20), last_day=date(2027, 3, 31))

    run(sqlite_engine, "2027-03")

    # Art. 32(2),(4): (100,000 - 10,000) x 17/31 = 49,354.84 -> 49,354; no prepayment, so no refund.
    # Nothing prepaid absorbs the Art. 32(3) penalty, so March bills it whole, untaxed:
    # 0.6 x 90,000 x (11 + 14/31) = 618,387.09 -> 618,387 (Apr 2027..Feb 2028, then Mar 1..14).
    assert refund == 0
    assert lines_of(sqlite_engine, annual, "2027-03") == [
        ("plan", 49_354, date(2027, 3, 15), date(2027, 3, 31)),
        ("penalty", 618_387, None, None),
    ]


def test_preview_shows_the_prepayment_line_the_run_bills(sqlite_engine: Engine, annual: int) -> None:
    with Session(sqlite_engine) as session:
        preview = preview_invoice(session, contract_id=annual, month=YearMonth(2027, 3))

    run(sqlite_engine, "2027-03")

    assert preview is not None and preview.kinds == ("annual_prepayment",)
    assert [(line.amount, line.first, line.last, str(line.clause)) for line in preview.draft.lines] == [
        (PREPAYMENT, *TERM, "Art. 30(2)-3")
    ]
    assert preview.draft.total == invoice_of(sqlite_engine, annual, "2027-03").total


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    return make_api(sqlite_engine)


def test_preview_over_the_api_matches_the_invoice(api: Api) -> None:
    customer = api.call(
        "POST",
        "/v1/customers",
        role="billing",
        json={
            "name": "주식회사 연납",
            "email": "billing@example.kr",
            "address": "서울특별시 중구",
            "contact_name": "김담당",
            "contact_phone": "02-555-0101",
        },
    ).json()["id"]
    contract = api.call(
        "POST",
        "/v1/contracts",
        role="billing",
        json={
            "customer_id": customer,
            "plan": "std-2",
            "monthly_fee": 100_000,
            "discount": 10_000,
            "billing_cycle": "annual_prepaid",
            "annual_prepay_discount": 108_000,
            "desired_open_date": "2027-03-10",
        },
    ).json()
    api.call("POST", f"/v1/contracts/{contract['id']}/approve", role="billing")
    api.call("POST", f"/v1/contracts/{contract['id']}/activate", role="operator", json={})
    api.clock.advance(days=30)  # 2027-04-01: March is over

    path = f"/v1/contracts/{contract['id']}/invoices"
    preview = api.call("GET", f"{path}/preview?month=2027-03", role="auditor")
    api.call("POST", "/v1/invoices/run?month=2027-03", role="billing")
    invoices = api.call("GET", path, role="auditor").json()

    assert contract["annual_prepay_discount"] == 108_000
    assert (preview.json()["supply_amount"], preview.json()["total"]) == (972_000, 1_069_200)
    assert preview.json()["lines"] == invoices[0]["lines"]
    assert [line["kind"] for line in invoices[0]["lines"]] == ["annual_prepayment"]


def test_an_annual_discount_on_a_monthly_contract_is_refused(api: Api) -> None:
    customer = api.call(
        "POST",
        "/v1/customers",
        role="billing",
        json={
            "name": "주식회사 월납",
            "email": "billing@example.kr",
            "address": "서울특별시 중구",
            "contact_name": "김담당",
            "contact_phone": "02-555-0101",
        },
    ).json()["id"]

    response = api.call(
        "POST",
        "/v1/contracts",
        role="billing",
        json={
            "customer_id": customer,
            "plan": "std-2",
            "monthly_fee": 100_000,
            "annual_prepay_discount": 1,
            "desired_open_date": "2027-03-10",
        },
    )

    assert (response.status_code, response.json()["field"]) == (422, "annual_prepay_discount")
