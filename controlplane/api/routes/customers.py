"""/v1/customers: register and read customers; credit balance and refunds (Art. 35).

A customer token sees only its own customer (another is a 404). Every staff read of a customer's
personal data is audited (Art. 10(4), controlplane/personal_data.py); a customer's read of itself is not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from controlplane import personal_data
from controlplane.api.deps import ClockDep, Principal, SessionDep, TenantDep, require_roles
from controlplane.models.auth import Role
from controlplane.models.customer import Customer
from controlplane.schemas.customers import (
    CreditPublic,
    CustomerCreate,
    CustomerPublic,
    RefundPublic,
    RefundRequest,
)
from controlplane.schemas.types import Count, Id
from controlplane.services import customers as customer_service
from controlplane.services.billing import credits as credit_service
from controlplane.services.tenancy import Owned

router = APIRouter(prefix="/v1/customers", tags=["customers"])

Writer = Annotated[Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR, Role.AUDITOR, Role.CUSTOMER))
]
Billing = Annotated[Principal, Depends(require_roles(Role.BILLING))]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_customer(
    body: CustomerCreate, who: Writer, session: SessionDep, clock: ClockDep
) -> CustomerPublic:
    customer = customer_service.create_customer(session, now=clock(), actor=who.actor, data=body)
    return CustomerPublic.model_validate(customer, from_attributes=True)


def _shown(
    rows: list[Customer], *, who: Principal, session: SessionDep, clock: ClockDep, via: str
) -> list[CustomerPublic]:
    """The customers as the API shows them, after the staff read is on the audit trail (Art. 10(4))."""
    if who.role is not Role.CUSTOMER:
        reads = personal_data.same_fields((c.id for c in rows), personal_data.CUSTOMER_FIELDS)
        personal_data.record_reads(session, now=clock(), actor=who.actor, reads=reads, via=via)
    return [CustomerPublic.model_validate(c, from_attributes=True) for c in rows]


@router.get("")
def list_customers(
    who: Reader,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[Count, Query()] = 0,
) -> list[CustomerPublic]:
    rows = customer_service.list_customers(session, limit=limit, offset=offset, only_id=tenant.customer_id)
    return _shown(rows, who=who, session=session, clock=clock, via="GET /v1/customers")


@router.get("/{customer_id}")
def get_customer(
    customer_id: Id, who: Reader, tenant: TenantDep, session: SessionDep, clock: ClockDep
) -> CustomerPublic:
    tenant.owns(Owned.CUSTOMER, customer_id, field="customer_id")
    customer = customer_service.get_customer(session, customer_id)
    return _shown([customer], who=who, session=session, clock=clock, via=f"GET /v1/customers/{customer_id}")[
        0
    ]


@router.get("/{customer_id}/credit")
def get_credit(customer_id: Id, _who: Reader, tenant: TenantDep, session: SessionDep) -> CreditPublic:
    tenant.owns(Owned.CUSTOMER, customer_id, field="customer_id")
    customer_service.get_customer(session, customer_id)
    return CreditPublic(customer_id=customer_id, balance=credit_service.credit_balance(session, customer_id))


@router.post("/{customer_id}/refunds")
def refund(
    customer_id: Id, body: RefundRequest, who: Billing, session: SessionDep, clock: ClockDep
) -> RefundPublic:
    """Refunds credit on request; overdue invoices are paid from it first (Art. 35)."""
    outcome = credit_service.refund_credit(
        session, now=clock(), actor=who.actor, customer_id=customer_id, amount=body.amount
    )
    return RefundPublic.model_validate(outcome, from_attributes=True)
