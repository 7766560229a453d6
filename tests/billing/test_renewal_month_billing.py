"""The month a renewed term starts is billed whole: the days before the renewal belong to the previous
term and were used too. Found by the time-travel simulation (seed 2): a contract opened on 2027-01-09
and renewed on 2028-01-09 was billed only 2028-01-09 .. 01-31. And a term starting on the 1st renews
(00:30) before that morning's invoicing run (01:00): the month just ended is billed all the same (seed
1444545220: opened 2027-05-01, renewed 2028-05-01, never invoiced for 2028-04)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.models import FeePeriod, Invoice
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.contracts.renewal import renew_contracts
from controlplane.terms.calendar import YearMonth
from tests.billing.test_invoicing import MakeContract, MakeCustomer, invoice_of


def test_the_month_of_a_renewal_bills_every_day_of_both_terms(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    with Session(sqlite_engine) as session:
        contract = contract_factory(
            session,
            customer_factory(session),
            monthly_fee=310_000,
            desired_open_date=date(2027, 1, 9),
            term_start=date(2027, 1, 9),
            term_end=date(2028, 1, 8),
        )
        session.add(
            FeePeriod(contract_id=contract.id or 0, effective_from=date(2027, 1, 9), monthly_fee=310_000)
        )
        session.commit()
        cid = contract.id or 0
    renewed = renew_contracts(sqlite_engine, as_of=date(2028, 1, 9), now=datetime(2028, 1, 9, 0, tzinfo=UTC))
    assert renewed.renewed == [cid]
    month = YearMonth.parse("2028-01")
    generate_invoices(
        sqlite_engine, month=month, as_of=date(2028, 2, 1), now=datetime(2028, 2, 1, tzinfo=UTC)
    )
    invoice, lines = invoice_of(sqlite_engine, cid, "2028-01")
    assert [(line.period_from, line.period_to) for line in lines] == [(date(2028, 1, 1), date(2028, 1, 31))]
    assert (invoice.supply_amount, invoice.vat_amount) == (310_000, 31_000)


def _opened_on_the_first(
    engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> int:
    with Session(engine) as session:
        contract = contract_factory(
            session,
            customer_factory(session),
            monthly_fee=270_000,
            desired_open_date=date(2027, 5, 1),
            term_start=date(2027, 5, 1),
            term_end=date(2028, 4, 30),
        )
        session.add(
            FeePeriod(contract_id=contract.id or 0, effective_from=date(2027, 5, 1), monthly_fee=270_000)
        )
        session.commit()
        return contract.id or 0


def test_a_term_renewed_on_the_first_still_gets_the_invoice_of_the_month_just_ended(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    cid = _opened_on_the_first(sqlite_engine, customer_factory, contract_factory)
    # 00:30 Seoul on 2028-05-01 is 15:30 UTC the day before: the renewal job, then the invoicing job.
    renewed = renew_contracts(
        sqlite_engine, as_of=date(2028, 5, 1), now=datetime(2028, 4, 30, 15, 30, tzinfo=UTC)
    )
    assert renewed.renewed == [cid]
    report = generate_invoices(
        sqlite_engine,
        month=YearMonth.parse("2028-04"),
        as_of=date(2028, 5, 1),
        now=datetime(2028, 4, 30, 16, 0, tzinfo=UTC),
    )
    assert report.created == 1
    invoice, lines = invoice_of(sqlite_engine, cid, "2028-04")
    assert [(line.period_from, line.period_to) for line in lines] == [(date(2028, 4, 1), date(2028, 4, 30))]
    assert (invoice.supply_amount, invoice.vat_amount) == (270_000, 27_000)


def test_a_contract_opening_on_the_first_is_not_invoiced_for_the_month_before(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    _opened_on_the_first(sqlite_engine, customer_factory, contract_factory)
    report = generate_invoices(
        sqlite_engine,
        month=YearMonth.parse("2027-04"),
        as_of=date(2027, 5, 1),
        now=datetime(2027, 4, 30, 16, 0, tzinfo=UTC),
    )
    assert (report.considered, report.created) == (0, 0)


def test_an_annual_term_renewed_on_the_first_is_prepaid_once_on_its_own_first_month(
    sqlite_engine: Engine, customer_factory: MakeCustomer, contract_factory: MakeContract
) -> None:
    """Art. 30(2)-3: now that the month before a renewal on the 1st is considered, it must not take the
    new term's prepayment (nor bill its days again); the renewed term is prepaid on May's invoice only."""
    with Session(sqlite_engine) as session:
        contract = contract_factory(
            session,
            customer_factory(session),
            billing_cycle="annual_prepaid",
            monthly_fee=100_000,
            desired_open_date=date(2027, 5, 1),
            term_start=date(2027, 5, 1),
            term_end=date(2028, 4, 30),
        )
        session.add(
            FeePeriod(contract_id=contract.id or 0, effective_from=date(2027, 5, 1), monthly_fee=100_000)
        )
        session.commit()
        cid = contract.id or 0
    generate_invoices(
        sqlite_engine,
        month=YearMonth.parse("2027-05"),
        as_of=date(2027, 6, 1),
        now=datetime(2027, 5, 31, 16, 0, tzinfo=UTC),
    )
    with Session(sqlite_engine) as session:  # paid on time: no late fee makes April's a statement
        prepaid = session.exec(select(Invoice).where(Invoice.contract_id == cid)).one()
        prepaid.paid_amount, prepaid.paid_in_full_at = prepaid.total, datetime(2027, 6, 5, tzinfo=UTC)
        session.add(prepaid)
        session.commit()
    assert renew_contracts(
        sqlite_engine, as_of=date(2028, 5, 1), now=datetime(2028, 4, 30, 15, 30, tzinfo=UTC)
    ).renewed == [cid]
    april = generate_invoices(
        sqlite_engine,
        month=YearMonth.parse("2028-04"),
        as_of=date(2028, 5, 1),
        now=datetime(2028, 4, 30, 16, 0, tzinfo=UTC),
    )
    assert (april.considered, april.created, april.nothing_to_bill) == (1, 0, 1)
    generate_invoices(
        sqlite_engine,
        month=YearMonth.parse("2028-05"),
        as_of=date(2028, 6, 1),
        now=datetime(2028, 5, 31, 16, 0, tzinfo=UTC),
    )
    for month, term in (("2027-05", date(2027, 5, 1)), ("2028-05", date(2028, 5, 1))):
        invoice, lines = invoice_of(sqlite_engine, cid, month)
        assert [(line.kind, line.period_from) for line in lines] == [("annual_prepayment", term)]
        assert invoice.supply_amount == 1_200_000
