"""/v1/invoices/{id}/disputes and /v1/disputes: file, list, answer (Art. 35(1),(2))."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, TenantDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.disputes import DisputeAnswer, DisputeCreate, DisputePublic
from controlplane.schemas.types import Id
from controlplane.services.enforcement import disputes as dispute_service
from controlplane.services.tenancy import Owned

router = APIRouter(tags=["disputes"])

Writer = Annotated[Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR))]
# Art. 35(1): disputing an invoice is the customer's own right, so a tenant files on its own invoices.
Filer = Annotated[Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR, Role.CUSTOMER))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR, Role.CUSTOMER))
]


@router.post("/v1/invoices/{invoice_id}/disputes", status_code=status.HTTP_201_CREATED)
def file_dispute(
    invoice_id: Id, body: DisputeCreate, who: Filer, tenant: TenantDep, session: SessionDep, clock: ClockDep
) -> DisputePublic:
    tenant.owns(Owned.INVOICE, invoice_id, field="invoice_id")
    dispute = dispute_service.file_dispute(
        session, invoice_id=invoice_id, amount=body.amount, reason=body.reason, now=clock(), actor=who.actor
    )
    return DisputePublic.model_validate(dispute)


@router.get("/v1/disputes")
def list_disputes(
    _who: Reader, tenant: TenantDep, session: SessionDep, open_only: bool = False
) -> list[DisputePublic]:
    found = dispute_service.list_disputes(session, open_only=open_only, customer_id=tenant.customer_id)
    return [DisputePublic.model_validate(d) for d in found]


@router.post("/v1/disputes/{dispute_id}/answer")
def answer_dispute(
    dispute_id: Id, body: DisputeAnswer, who: Writer, session: SessionDep, clock: ClockDep
) -> DisputePublic:
    dispute = dispute_service.answer_dispute(
        session,
        dispute_id=dispute_id,
        outcome=body.outcome,
        corrected_amount=body.corrected_amount,
        answer=body.answer,
        now=clock(),
        actor=who.actor,
    )
    return DisputePublic.model_validate(dispute)
