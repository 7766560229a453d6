"""/v1/contracts/{id}/terminations and /v1/terminations: decide, list, confirm (Art. 20, 21)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, require_roles
from controlplane.api.schemas.enforcement import TerminationCreate, TerminationPublic
from controlplane.models.auth import Role
from controlplane.services import terminations as termination_service

router = APIRouter(tags=["terminations"])

Writer = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING))]
Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR))]


@router.post("/v1/contracts/{contract_id}/terminations", status_code=status.HTTP_201_CREATED)
def request_termination(
    contract_id: int, body: TerminationCreate, who: Writer, session: SessionDep, clock: ClockDep
) -> TerminationPublic:
    termination = termination_service.request_termination(
        session, contract_id=contract_id, request=body, now=clock(), actor=who.actor)
    return TerminationPublic.model_validate(termination)


@router.get("/v1/terminations")
def list_terminations(
    _who: Reader, session: SessionDep, pending_only: bool = False
) -> list[TerminationPublic]:
    found = termination_service.list_terminations(session, pending_only=pending_only)
    return [TerminationPublic.model_validate(t) for t in found]


@router.get("/v1/terminations/{termination_id}")
def get_termination(termination_id: int, _who: Reader, session: SessionDep) -> TerminationPublic:
    return TerminationPublic.model_validate(termination_service.get_termination(session, termination_id))


@router.post("/v1/terminations/{termination_id}/confirm")
def confirm_termination(termination_id: int, who: Operator, session: SessionDep,
                        clock: ClockDep) -> TerminationPublic:
    termination = termination_service.confirm_termination(session, termination_id=termination_id, now=clock(),
                                                          actor=who.actor)
    return TerminationPublic.model_validate(termination)
