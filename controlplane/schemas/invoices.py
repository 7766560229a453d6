"""Invoice schemas: an invoice with its lines (VAT separate, Art. 32(5)), and an invoicing run's report."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class InvoiceLinePublic(BaseModel):
    kind: str
    description: str
    clause: str
    amount: int
    period_from: date | None
    period_to: date | None


class InvoicePublic(BaseModel):
    id: int | None  # None in a preview: nothing was written
    contract_id: int
    month: str
    send_by: date
    due_date: date
    supply_amount: int
    vat_amount: int
    vat_clause: str = "Art. 32(5)"
    total: int
    paid_amount: int
    paid_in_full_at: datetime | None
    lines: list[InvoiceLinePublic]


class InvoiceRunPublic(BaseModel):
    month: str
    considered: int
    created: int
    already_invoiced: int
    nothing_to_bill: int
    failed: int
