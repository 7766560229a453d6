"""/v1/outages and availability per contract and month (Art. 36, 37)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, TenantDep, require_roles
from controlplane.errors import InvalidInput
from controlplane.models.auth import Role
from controlplane.schemas.enforcement import AvailabilityPublic, OutageCreate, OutagePublic, OutageUpdate
from controlplane.schemas.types import Id, MonthText
from controlplane.services.enforcement import availability as availability_service
from controlplane.services.tenancy import Owned
from controlplane.terms.calendar import YearMonth

router = APIRouter(tags=["outages"])

Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Billing = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR, Role.CUSTOMER))
]
MonthQuery = Annotated[MonthText, Query()]


def _month(text: str) -> YearMonth:
    try:
        return YearMonth.parse(text)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from exc


@router.post("/v1/outages", status_code=status.HTTP_201_CREATED)
def record_outage(body: OutageCreate, who: Operator, session: SessionDep, clock: ClockDep) -> OutagePublic:
    outage = availability_service.record_outage(session, data=body, now=clock(), actor=who.actor)
    return OutagePublic.model_validate(outage)


@router.patch("/v1/outages/{outage_id}")
def update_outage(
    outage_id: Id, body: OutageUpdate, who: Operator, session: SessionDep, clock: ClockDep
) -> OutagePublic:
    outage = availability_service.update_outage(
        session, outage_id=outage_id, data=body, now=clock(), actor=who.actor
    )
    return OutagePublic.model_validate(outage)


@router.get("/v1/outages")
def list_outages(
    _who: Reader, tenant: TenantDep, session: SessionDep, contract_id: Id | None = None
) -> list[OutagePublic]:
    found = availability_service.list_outages(
        session, contract_id=contract_id, customer_id=tenant.customer_id
    )
    return [OutagePublic.model_validate(o) for o in found]


@router.get("/v1/contracts/{contract_id}/availability")
def availability(
    contract_id: Id, month: MonthQuery, _who: Reader, tenant: TenantDep, session: SessionDep
) -> AvailabilityPublic:
    tenant.owns(Owned.CONTRACT, contract_id, field="contract_id")
    credit = availability_service.availability(session, contract_id=contract_id, month=_month(month))
    percent = f"{float(credit.availability_percent):.4f}"
    return AvailabilityPublic(
        contract_id=contract_id,
        month=month,
        availability_percent=percent,
        counted_minutes=str(credit.counted_minutes),
        credit=credit.amount,
        clause=str(credit.clause),
        capped=credit.capped,
        credited_days=list(credit.credited_days),
    )


@router.post("/v1/contracts/{contract_id}/availability-claims")
def claim_credit(
    contract_id: Id, month: MonthQuery, who: Billing, session: SessionDep, clock: ClockDep
) -> dict[str, object]:
    amount = availability_service.claim_credit(
        session, contract_id=contract_id, month=_month(month), now=clock(), actor=who.actor
    )
    return {"contract_id": contract_id, "month": month, "credit": amount, "clause": "Art. 36(3), Art. 37"}
