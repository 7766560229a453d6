"""/v1/contracts/{id}/terminations and /v1/terminations: decide or propose, list, confirm, withdraw
(Art. 20, 21). Confirming is open to billing too so that it hears the two-person rule as a 409."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, TenantDep, require_roles
from controlplane.models.auth import Role
from controlplane.models.enforcement import TerminationStatus
from controlplane.schemas.enforcement import TerminationCreate, TerminationPublic, TerminationWithdraw
from controlplane.schemas.types import Id
from controlplane.services.enforcement import terminations as termination_service
from controlplane.services.tenancy import Owned

router = APIRouter(tags=["terminations"])

Writer = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR, Role.CUSTOMER))
]


@router.post("/v1/contracts/{contract_id}/terminations", status_code=status.HTTP_201_CREATED)
def request_termination(
    contract_id: Id, body: TerminationCreate, who: Writer, session: SessionDep, clock: ClockDep
) -> TerminationPublic:
    termination = termination_service.request_termination(
        session, contract_id=contract_id, request=body, now=clock(), actor=who.actor, token_id=who.token_id
    )
    return TerminationPublic.model_validate(termination)


@router.get("/v1/terminations")
def list_terminations(
    _who: Reader,
    tenant: TenantDep,
    session: SessionDep,
    pending_only: bool = False,
    status: TerminationStatus | None = None,
) -> list[TerminationPublic]:
    """`status=awaiting_settlement` is the collection list: service ended, something still unpaid."""
    found = termination_service.list_terminations(
        session, pending_only=pending_only, customer_id=tenant.customer_id
    )
    public = [TerminationPublic.model_validate(t) for t in found]
    return [t for t in public if status is None or t.status == status]


@router.get("/v1/terminations/{termination_id}")
def get_termination(
    termination_id: Id, _who: Reader, tenant: TenantDep, session: SessionDep
) -> TerminationPublic:
    tenant.owns(Owned.TERMINATION, termination_id, field="termination_id")
    return TerminationPublic.model_validate(termination_service.get_termination(session, termination_id))


@router.post("/v1/terminations/{termination_id}/confirm")
def confirm_termination(
    termination_id: Id, who: Writer, session: SessionDep, clock: ClockDep
) -> TerminationPublic:
    confirmer = termination_service.Confirmer(actor=who.actor, role=who.role.value, token_id=who.token_id)
    termination = termination_service.confirm_termination(
        session, termination_id=termination_id, now=clock(), confirmer=confirmer
    )
    return TerminationPublic.model_validate(termination)


@router.post("/v1/terminations/{termination_id}/withdraw")
def withdraw_termination(
    termination_id: Id, body: TerminationWithdraw, who: Writer, session: SessionDep, clock: ClockDep
) -> TerminationPublic:
    termination = termination_service.withdraw_termination(
        session, termination_id=termination_id, now=clock(), actor=who.actor, reason=body.reason
    )
    return TerminationPublic.model_validate(termination)
