"""Monthly invoicing: daily proration, plan changes, add-ons, VAT separate, idempotent reruns, dry run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from controlplane.errors import InvalidInput
from controlplane.models import AddOn, Contract, Customer, FeePeriod, Invoice, InvoiceLine, Notice
from controlplane.services.billing.invoicing import generate_invoices, preview_invoice
from controlplane.terms.calendar import YearMonth

NOW = datetime(2028, 3, 1, 0, 0, tzinfo=UTC)
MakeCustomer = Callable[..., Customer]
MakeContract = Callable[..., Contract]


def run(engine: Engine, month: str) -> None:
    ym = YearMonth.parse(month)
    generate_invoices(engine, month=ym, as_of=ym.next().first_day, now=NOW)


def invoice_of(engine: Engine, contract_id: int, month: str) -> tuple[Invoice, list[InvoiceLine]]:
    with Session(engine) as session:
        invoice = session.exec(
            select(Invoice).where(
                Invoice.contract_id == contract_id, Invoice.month == YearMonth.parse(month).first_day
            )
        ).one()
        lines = session.exec(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(col(InvoiceLine.id))
        ).all()
        return invoice, list(lines)


def one_contract(
    engine: Engine, make_customer: MakeCustomer, make_contract: MakeContract, **fields: object
) -> int:
    with Session(engine) as session:
        contract = make_contract(session, make_customer(session), **fields)
        session.commit()
        return contract.id or 0


def test_opening_mid_month_is_prorated_by_day_with_vat_separate(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    cid = one_contract(
        sqlite_engine,
        customer_factory,
        contract_factory,
        monthly_fee=310_000,
        term_start=date(2027, 1, 11),
        term_end=date(2028, 1, 10),
    )

    run(sqlite_engine, "2027-01")

    invoice, lines = invoice_of(sqlite_engine, cid, "2027-01")
    assert [(line.kind, line.amount, line.period_from) for line in lines] == [
        ("plan", 210_000, date(2027, 1, 11))
    ]
    assert (invoice.supply_amount, invoice.vat_amount, invoice.total) == (210_000, 21_000, 231_000)
    assert (invoice.send_by, invoice.due_date) == (date(2027, 2, 10), date(2027, 2, 28))


def test_opened_on_the_31st_bills_one_day(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    cid = one_contract(
        sqlite_engine,
        customer_factory,
        contract_factory,
        monthly_fee=100_000,
        term_start=date(2027, 1, 31),
        term_end=date(2028, 1, 30),
    )

    run(sqlite_engine, "2027-01")
    run(sqlite_engine, "2027-02")

    assert invoice_of(sqlite_engine, cid, "2027-01")[0].supply_amount == 3_225  # 100,000 x 1/31, floored
    assert invoice_of(sqlite_engine, cid, "2027-02")[0].supply_amount == 100_000


def test_plan_change_mid_month_in_february_2028_splits_by_day(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    cid = one_contract(
        sqlite_engine,
        customer_factory,
        contract_factory,
        monthly_fee=290_000,
        term_start=date(2027, 6, 1),
        term_end=date(2028, 5, 31),
    )
    with Session(sqlite_engine) as session:
        session.add(FeePeriod(contract_id=cid, effective_from=date(2027, 6, 1), monthly_fee=290_000))
        session.add(
            FeePeriod(contract_id=cid, effective_from=date(2028, 2, 15), monthly_fee=580_000, discount=0)
        )
        session.commit()

    run(sqlite_engine, "2028-02")

    invoice, lines = invoice_of(sqlite_engine, cid, "2028-02")
    # 29 days in February 2028: 14 days at 290,000 and 15 days at 580,000.
    assert [(line.amount, line.period_from, line.period_to) for line in lines] == [
        (140_000, date(2028, 2, 1), date(2028, 2, 14)),
        (300_000, date(2028, 2, 15), date(2028, 2, 29)),
    ]
    assert (invoice.supply_amount, invoice.vat_amount) == (440_000, 44_000)


def test_add_ons_monthly_one_off_and_free(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    cid = one_contract(sqlite_engine, customer_factory, contract_factory, monthly_fee=100_000)
    with Session(sqlite_engine) as session:
        session.add(
            AddOn(contract_id=cid, name="backup", billing="monthly", fee=31_000, started_on=date(2027, 3, 17))
        )
        session.add(
            AddOn(contract_id=cid, name="setup", billing="one_off", fee=50_000, started_on=date(2027, 3, 2))
        )
        session.add(
            AddOn(contract_id=cid, name="firewall", billing="monthly", fee=0, started_on=date(2027, 1, 1))
        )
        session.commit()

    run(sqlite_engine, "2027-03")

    invoice, lines = invoice_of(sqlite_engine, cid, "2027-03")
    assert sorted((line.description, line.amount) for line in lines if line.kind == "add_on") == [
        ("backup", 15_000),
        ("firewall", 0),
        ("setup", 50_000),
    ]
    assert invoice.supply_amount == 165_000


def test_termination_inside_the_month_bills_up_to_the_last_day(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    from controlplane.models import Termination

    cid = one_contract(
        sqlite_engine, customer_factory, contract_factory, monthly_fee=300_000, state="terminated"
    )
    with Session(sqlite_engine) as session:
        session.add(
            Termination(
                contract_id=cid,
                kind="customer_request",
                clause="Art. 20(2)",
                reason="r",
                requested_at=NOW,
                effective_on=date(2027, 4, 10),
                decided_by="t",
                confirmed_by="t",
            )
        )
        session.commit()

    run(sqlite_engine, "2027-04")
    run(sqlite_engine, "2027-05")

    assert invoice_of(sqlite_engine, cid, "2027-04")[0].supply_amount == 100_000
    with Session(sqlite_engine) as session:
        assert (
            session.exec(
                select(func.count()).select_from(Invoice).where(Invoice.month == date(2027, 5, 1))
            ).one()
            == 0
        )


def test_rerunning_a_month_creates_nothing_twice(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    with Session(sqlite_engine) as session:
        customer = customer_factory(session)
        for _ in range(3):
            contract_factory(session, customer)
        session.commit()

    run(sqlite_engine, "2027-03")
    run(sqlite_engine, "2027-03")

    with Session(sqlite_engine) as session:
        assert session.exec(select(func.count()).select_from(Invoice)).one() == 3
        assert session.exec(select(func.count()).select_from(InvoiceLine)).one() == 3
        kinds = session.exec(select(Notice.kind, Notice.channel)).all()
    assert sorted(kinds) == [("invoice", "email")] * 3 + [("invoice", "sms")] * 3


def test_preview_shows_what_the_run_bills_and_writes_nothing(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    cid = one_contract(
        sqlite_engine, customer_factory, contract_factory, monthly_fee=310_000, term_start=date(2027, 3, 11)
    )
    with Session(sqlite_engine) as session:
        preview = preview_invoice(session, contract_id=cid, month=YearMonth(2027, 3))
        assert session.exec(select(func.count()).select_from(Invoice)).one() == 0

    run(sqlite_engine, "2027-03")

    invoice, lines = invoice_of(sqlite_engine, cid, "2027-03")
    assert preview is not None
    assert (preview.draft.supply_amount, preview.draft.vat, preview.draft.total) == (
        invoice.supply_amount,
        invoice.vat_amount,
        invoice.total,
    )
    assert [line.amount for line in preview.draft.lines] == [line.amount for line in lines]


def test_a_month_that_is_not_over_is_refused(sqlite_engine: Engine) -> None:
    with pytest.raises(InvalidInput) as caught:
        generate_invoices(sqlite_engine, month=YearMonth(2027, 3), as_of=date(2027, 3, 31), now=NOW)
    assert caught.value.field == "month"


def test_contracts_not_yet_open_are_not_billed(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    one_contract(
        sqlite_engine, customer_factory, contract_factory, state="approved", term_start=None, term_end=None
    )

    run(sqlite_engine, "2027-03")

    with Session(sqlite_engine) as session:
        assert session.exec(select(func.count()).select_from(Invoice)).one() == 0
