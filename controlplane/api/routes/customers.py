"""/v1/customers: register and read customers; credit balance and refunds (Art. 35)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, require_roles
from controlplane.models.auth import Role
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

router = APIRouter(prefix="/v1/customers", tags=["customers"])

Writer = Annotated[Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR, Role.AUDITOR))]
Billing = Annotated[Principal, Depends(require_roles(Role.BILLING))]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_customer(
    body: CustomerCreate, who: Writer, session: SessionDep, clock: ClockDep
) -> CustomerPublic:
    customer = customer_service.create_customer(session, now=clock(), actor=who.actor, data=body)
    return CustomerPublic.model_validate(customer, from_attributes=True)


@router.get("")
def list_customers(
    _who: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[Count, Query()] = 0,
) -> list[CustomerPublic]:
    rows = customer_service.list_customers(session, limit=limit, offset=offset)
    return [CustomerPublic.model_validate(c, from_attributes=True) for c in rows]


@router.get("/{customer_id}")
def get_customer(customer_id: Id, _who: Reader, session: SessionDep) -> CustomerPublic:
    customer = customer_service.get_customer(session, customer_id)
    return CustomerPublic.model_validate(customer, from_attributes=True)


@router.get("/{customer_id}/credit")
def get_credit(customer_id: Id, _who: Reader, session: SessionDep) -> CreditPublic:
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
