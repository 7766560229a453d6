"""Reading a contract's invoices costs the same few queries however many invoices it has."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, event
from sqlmodel import Session

from controlplane.models import InvoiceLine
from controlplane.services.billing.invoices import contract_invoices
from tests.utils.factories import make_contract, make_customer, make_invoice


def test_listing_a_contracts_invoices_does_not_query_once_per_invoice(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        contract = make_contract(session, make_customer(session))
        for month in range(1, 7):
            invoice = make_invoice(session, contract, month=date(2027, month, 1))
            for kind in ("plan", "add_on"):
                session.add(
                    InvoiceLine(
                        invoice_id=invoice.id or 0,
                        kind=kind,
                        description=kind,
                        clause="Art. 31",
                        amount=50_000,
                    )
                )
        session.commit()
        contract_id = contract.id or 0

    statements: list[str] = []
    event.listen(sqlite_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(sqlite_engine) as session:
        issued = contract_invoices(session, contract_id)

    assert [i.invoice.month.month for i in issued] == [1, 2, 3, 4, 5, 6]
    assert [[line.kind for line in i.lines] for i in issued] == [["plan", "add_on"]] * 6
    assert len(statements) == 3  # the contract, its invoices, all their lines
