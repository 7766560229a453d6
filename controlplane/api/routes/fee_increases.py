"""/v1/fee-increases: the company proposes, each customer accepts or refuses (Art. 17(2),(3))."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.types import Id
from controlplane.schemas.workflows import FeeIncreaseAnswer, FeeIncreaseCreate, FeeIncreasePublic
from controlplane.services.contracts import fee_increases as fee_service

router = APIRouter(tags=["fee increases"])

Writer = Annotated[Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR))]


@router.post("/v1/fee-increases", status_code=status.HTTP_201_CREATED)
def propose(
    body: FeeIncreaseCreate, who: Writer, session: SessionDep, clock: ClockDep
) -> list[FeeIncreasePublic]:
    return fee_service.propose_fee_increase(session, request=body, now=clock(), actor=who.actor)


@router.get("/v1/fee-increases")
def list_proposals(
    _who: Reader, session: SessionDep, contract_id: Id | None = None
) -> list[FeeIncreasePublic]:
    return fee_service.list_fee_increases(session, contract_id=contract_id)


@router.post("/v1/fee-increases/{proposal_id}/answer")
def answer(
    proposal_id: Id, body: FeeIncreaseAnswer, who: Writer, session: SessionDep, clock: ClockDep
) -> FeeIncreasePublic:
    return fee_service.answer_fee_increase(
        session, proposal_id=proposal_id, answer=body.answer, now=clock(), actor=who.actor
    )
