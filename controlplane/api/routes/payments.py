"""/v1/payments: record a payment once per Idempotency-Key (201 first, 200 for a repeat)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, TenantDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.payments import AllocationPublic, LateFeePublic, PaymentCreate, PaymentPublic
from controlplane.schemas.types import Id
from controlplane.services.billing import payments as payment_service
from controlplane.services.billing.payments import PaymentOutcome
from controlplane.services.tenancy import Owned

router = APIRouter(prefix="/v1/payments", tags=["payments"])

Billing = Annotated[Principal, Depends(require_roles(Role.BILLING))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR, Role.AUDITOR, Role.CUSTOMER))
]


def payment_public(outcome: PaymentOutcome) -> PaymentPublic:
    p = outcome.payment
    return PaymentPublic(
        id=p.id or 0,
        customer_id=p.customer_id,
        contract_id=p.contract_id,
        idempotency_key=p.idempotency_key,
        amount=p.amount,
        received_at=p.received_at,
        method=p.method,
        reference=p.reference,
        allocations=[AllocationPublic(invoice_id=a.invoice_id, amount=a.amount) for a in outcome.allocations],
        late_fees=[
            LateFeePublic(
                invoice_id=f.invoice_id, principal=f.principal, overdue_days=f.overdue_days, amount=f.amount
            )
            for f in outcome.late_fees
        ],
        credited=outcome.credited,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def record_payment(
    body: PaymentCreate,
    who: Billing,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> PaymentPublic:
    key = payment_service.resolve_key(body, idempotency_key)
    outcome = payment_service.record_payment(session, now=clock(), actor=who.actor, data=body, key=key)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return payment_public(outcome)


@router.get("/{payment_id}")
def get_payment(payment_id: Id, _who: Reader, tenant: TenantDep, session: SessionDep) -> PaymentPublic:
    tenant.owns(Owned.PAYMENT, payment_id, field="payment_id")
    return payment_public(payment_service.get_payment(session, payment_id))
