"""/v1/contracts/{id}/blocks and /v1/blocks: operator restrictions (Art. 16) and their lifting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, TenantDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.enforcement import BlockCreate, BlockLift, BlockPublic
from controlplane.schemas.types import Id
from controlplane.services.enforcement import blocks as block_service
from controlplane.services.tenancy import Owned

router = APIRouter(tags=["blocks"])

Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR, Role.CUSTOMER))
]


@router.post("/v1/contracts/{contract_id}/blocks", status_code=status.HTTP_201_CREATED)
def create_block(
    contract_id: Id, body: BlockCreate, who: Operator, session: SessionDep, clock: ClockDep
) -> BlockPublic:
    block = block_service.create_operator_block(
        session, contract_id=contract_id, request=body, now=clock(), actor=who.actor
    )
    return BlockPublic.model_validate(block)


@router.get("/v1/contracts/{contract_id}/blocks")
def list_contract_blocks(
    contract_id: Id, _who: Reader, tenant: TenantDep, session: SessionDep, active_only: bool = False
) -> list[BlockPublic]:
    tenant.owns(Owned.CONTRACT, contract_id, field="contract_id")
    found = block_service.list_blocks(session, contract_id=contract_id, active_only=active_only)
    return [BlockPublic.model_validate(b) for b in found]


@router.post("/v1/blocks/{block_id}/lift")
def lift_block(
    block_id: Id, body: BlockLift, who: Operator, session: SessionDep, clock: ClockDep
) -> BlockPublic:
    block = block_service.lift_operator_block(
        session, block_id=block_id, now=clock(), actor=who.actor, reason=body.reason
    )
    return BlockPublic.model_validate(block)
