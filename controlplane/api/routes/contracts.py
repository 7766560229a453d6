"""/v1/contracts: apply, hold, approve, activate, plan changes, add-ons, invoices and their dry run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlmodel import Session

from controlplane.api.deps import ClockDep, Principal, SessionDep, TenantDep, require_roles
from controlplane.api.routes.invoices import invoice_public, preview_public
from controlplane.errors import InvalidInput
from controlplane.models.auth import Role
from controlplane.models.customer import Contract
from controlplane.schemas.contracts import (
    AddOnCreate,
    AddOnPublic,
    ContractActivate,
    ContractApply,
    ContractHold,
    ContractPublic,
    PendingPlanChange,
    PlanChange,
)
from controlplane.schemas.invoices import InvoicePublic
from controlplane.schemas.types import Count, Id, MonthText
from controlplane.services.billing import invoices as invoice_service
from controlplane.services.billing.invoicing import preview_invoice
from controlplane.services.contracts import lifecycle as contract_service
from controlplane.services.contracts import plan_changes
from controlplane.services.tenancy import Owned
from controlplane.terms.calendar import YearMonth, seoul_date

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

Writer = Annotated[Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR))]
# A customer token reads its own contracts (another customer's is a 404) and changes none.
Reader = Annotated[
    Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR, Role.AUDITOR, Role.CUSTOMER))
]
Month = Annotated[MonthText, Query()]


def contract_public(contract: Contract) -> ContractPublic:
    return ContractPublic.model_validate(contract, from_attributes=True)


def contracts_with_pending(
    session: Session, contracts: list[Contract], now: datetime
) -> list[ContractPublic]:
    """The contracts as shown, each with the plan changes that have not reached their day (Seoul)."""
    pending = plan_changes.pending_plan_changes(session, contracts, seoul_date(now))
    shown = []
    for contract in contracts:
        public = contract_public(contract)
        public.pending_plan_changes = [
            PendingPlanChange(
                effective_from=p.effective_from,
                monthly_fee=p.monthly_fee,
                discount=p.discount,
                server_size=plan_changes.pending_size(p),
            )
            for p in pending.get(contract.id or 0, [])
        ]
        shown.append(public)
    return shown


def parse_month(text: str) -> YearMonth:
    try:
        return YearMonth.parse(text)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from exc


@router.post("", status_code=status.HTTP_201_CREATED)
def apply_for_contract(
    body: ContractApply, who: Writer, session: SessionDep, clock: ClockDep
) -> ContractPublic:
    """Files the application; the automatic Art. 8(6), 8(7), 8(9) checks may hold it at once."""
    return contract_public(
        contract_service.apply_for_contract(session, now=clock(), actor=who.actor, data=body)
    )


@router.get("")
def list_contracts(
    _who: Reader,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
    customer_id: Annotated[Id | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[Count, Query()] = 0,
) -> list[ContractPublic]:
    if tenant.customer_id is not None:
        if customer_id not in (None, tenant.customer_id):
            return []  # another customer's contracts: none, as if it had none
        customer_id = tenant.customer_id
    rows = contract_service.list_contracts(session, customer_id=customer_id, limit=limit, offset=offset)
    return contracts_with_pending(session, rows, clock())


@router.get("/{contract_id}")
def get_contract(
    contract_id: Id, _who: Reader, tenant: TenantDep, session: SessionDep, clock: ClockDep
) -> ContractPublic:
    tenant.owns(Owned.CONTRACT, contract_id, field="contract_id")
    return contracts_with_pending(session, [contract_service.get_contract(session, contract_id)], clock())[0]


@router.post("/{contract_id}/hold")
def hold_contract(
    contract_id: Id, body: ContractHold, who: Writer, session: SessionDep, clock: ClockDep
) -> ContractPublic:
    contract = contract_service.hold_contract(
        session, now=clock(), actor=who.actor, contract_id=contract_id, data=body
    )
    return contract_public(contract)


@router.post("/{contract_id}/approve")
def approve_contract(contract_id: Id, who: Writer, session: SessionDep, clock: ClockDep) -> ContractPublic:
    contract = contract_service.approve_contract(
        session, now=clock(), actor=who.actor, contract_id=contract_id
    )
    return contract_public(contract)


@router.post("/{contract_id}/activate")
def activate_contract(
    contract_id: Id, body: ContractActivate, who: Writer, session: SessionDep, clock: ClockDep
) -> ContractPublic:
    contract = contract_service.activate_contract(
        session, now=clock(), actor=who.actor, contract_id=contract_id, data=body
    )
    return contract_public(contract)


@router.post("/{contract_id}/plan-changes", status_code=status.HTTP_201_CREATED)
def change_plan(
    contract_id: Id, body: PlanChange, who: Writer, session: SessionDep, clock: ClockDep
) -> ContractPublic:
    contract_service.change_plan(session, now=clock(), actor=who.actor, contract_id=contract_id, data=body)
    return contracts_with_pending(session, [contract_service.get_contract(session, contract_id)], clock())[0]


@router.post("/{contract_id}/add-ons", status_code=status.HTTP_201_CREATED)
def add_add_on(
    contract_id: Id, body: AddOnCreate, who: Writer, session: SessionDep, clock: ClockDep
) -> AddOnPublic:
    add_on = contract_service.add_add_on(
        session, now=clock(), actor=who.actor, contract_id=contract_id, data=body
    )
    return AddOnPublic.model_validate(add_on, from_attributes=True)


@router.get("/{contract_id}/invoices")
def list_invoices(
    contract_id: Id, _who: Reader, tenant: TenantDep, session: SessionDep
) -> list[InvoicePublic]:
    tenant.owns(Owned.CONTRACT, contract_id, field="contract_id")
    return [invoice_public(i) for i in invoice_service.contract_invoices(session, contract_id)]


@router.get("/{contract_id}/invoices/preview")
def preview(
    contract_id: Id, month: Month, _who: Reader, tenant: TenantDep, session: SessionDep
) -> InvoicePublic | None:
    """The dry run: exactly what the monthly run would bill, nothing written (null: nothing to bill)."""
    tenant.owns(Owned.CONTRACT, contract_id, field="contract_id")
    result = preview_invoice(session, contract_id=contract_id, month=parse_month(month))
    return preview_public(result) if result is not None else None
