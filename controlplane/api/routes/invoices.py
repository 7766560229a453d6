"""/v1/invoices: read an invoice, run a month's invoicing (billing role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from controlplane.api.deps import ClockDep, EngineDep, Principal, SessionDep, TenantDep, require_roles
from controlplane.errors import InvalidInput
from controlplane.models.auth import Role
from controlplane.schemas.invoices import InvoiceLinePublic, InvoicePublic, InvoiceRunPublic
from controlplane.schemas.types import Day, Id, MonthText
from controlplane.services.billing import invoices as invoice_service
from controlplane.services.billing.drafts import ContractInvoice
from controlplane.services.billing.invoices import IssuedInvoice
from controlplane.services.billing.invoicing import generate_invoices
from controlplane.services.tenancy import Owned
from controlplane.terms.calendar import YearMonth, seoul_date

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])

Billing = Annotated[Principal, Depends(require_roles(Role.BILLING))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR, Role.AUDITOR, Role.CUSTOMER))
]


def invoice_public(issued: IssuedInvoice) -> InvoicePublic:
    invoice, lines = issued.invoice, issued.lines
    return InvoicePublic(
        id=invoice.id,
        contract_id=invoice.contract_id,
        month=str(YearMonth.of(invoice.month)),
        send_by=invoice.send_by,
        due_date=invoice.due_date,
        supply_amount=invoice.supply_amount,
        vat_amount=invoice.vat_amount,
        total=invoice.total,
        paid_amount=invoice.paid_amount,
        paid_in_full_at=invoice.paid_in_full_at,
        lines=[InvoiceLinePublic.model_validate(line, from_attributes=True) for line in lines],
    )


def preview_public(result: ContractInvoice) -> InvoicePublic:
    draft = result.draft
    lines = [
        InvoiceLinePublic(
            kind=kind,
            description=line.description,
            clause=str(line.clause),
            amount=line.amount,
            period_from=line.first,
            period_to=line.last,
        )
        for kind, line in zip(result.kinds, draft.lines, strict=True)
    ]
    return InvoicePublic(
        id=None,
        contract_id=result.contract_id,
        month=str(draft.month),
        send_by=draft.send_by,
        due_date=draft.due,
        supply_amount=draft.supply_amount,
        vat_amount=draft.vat,
        total=draft.total,
        paid_amount=0,
        paid_in_full_at=None,
        lines=lines,
    )


@router.post("/run")
def run_invoicing(
    who: Billing,
    engine: EngineDep,
    clock: ClockDep,
    month: Annotated[MonthText, Query()],
    as_of: Annotated[Day | None, Query()] = None,
) -> InvoiceRunPublic:
    """Invoices every billable contract for the month; rerunning creates nothing twice."""
    try:
        ym = YearMonth.parse(month)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from exc
    now = clock()
    report = generate_invoices(engine, month=ym, as_of=as_of or seoul_date(now), now=now)
    return InvoiceRunPublic.model_validate(vars(report))


@router.get("/{invoice_id}")
def get_invoice(invoice_id: Id, _who: Reader, tenant: TenantDep, session: SessionDep) -> InvoicePublic:
    tenant.owns(Owned.INVOICE, invoice_id, field="invoice_id")
    return invoice_public(invoice_service.get_invoice(session, invoice_id))
