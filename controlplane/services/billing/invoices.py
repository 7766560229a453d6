"""Reading issued invoices with their lines: two queries for any number of invoices, never one each."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from controlplane.errors import NotFound
from controlplane.models.billing import Invoice, InvoiceLine
from controlplane.models.customer import Contract


@dataclass(frozen=True)
class IssuedInvoice:
    invoice: Invoice
    lines: list[InvoiceLine] = field(default_factory=list)


def get_invoice(session: Session, invoice_id: int) -> IssuedInvoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}", field="invoice_id")
    return _with_lines(session, [invoice])[0]


def contract_invoices(session: Session, contract_id: int) -> list[IssuedInvoice]:
    """The contract's invoices, oldest month first; an unknown contract is a 404."""
    if session.get(Contract, contract_id) is None:
        raise NotFound(f"no contract {contract_id}", field="contract_id")
    invoices = session.exec(
        select(Invoice).where(Invoice.contract_id == contract_id).order_by(col(Invoice.month))
    ).all()
    return _with_lines(session, list(invoices))


def _with_lines(session: Session, invoices: list[Invoice]) -> list[IssuedInvoice]:
    ids = [i.id for i in invoices if i.id is not None]
    by_invoice: dict[int, list[InvoiceLine]] = defaultdict(list)
    if ids:
        lines = session.exec(
            select(InvoiceLine).where(col(InvoiceLine.invoice_id).in_(ids)).order_by(col(InvoiceLine.id))
        ).all()
        for line in lines:
            by_invoice[line.invoice_id].append(line)
    return [IssuedInvoice(invoice=i, lines=by_invoice.get(i.id or 0, [])) for i in invoices]
