"""The month a renewed term starts is billed whole: the days before the renewal belong to the previous
term and were used too. Found by the time-travel simulation (seed 2): a contract opened on 2027-01-09
and renewed on 2028-01-09 was billed only 2028-01-09 .. 01-31."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.models import FeePeriod
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
