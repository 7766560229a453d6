"""/v1/contracts/{id}/firewall: the firewall add-on's rule set (Art. 22(3) 2.2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from controlplane.api.deps import ClockDep, Principal, SessionDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.firewall import FirewallPublic, FirewallPut
from controlplane.schemas.types import Id
from controlplane.services.fleet import firewall as firewall_service

router = APIRouter(tags=["firewall"])

Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR))]


@router.put("/v1/contracts/{contract_id}/firewall")
def put_firewall(
    contract_id: Id, body: FirewallPut, who: Operator, session: SessionDep, clock: ClockDep
) -> FirewallPublic:
    return firewall_service.put_firewall(
        session, contract_id=contract_id, request=body, now=clock(), actor=who.actor
    )


@router.get("/v1/contracts/{contract_id}/firewall")
def get_firewall(contract_id: Id, _who: Reader, session: SessionDep) -> FirewallPublic:
    return firewall_service.get_firewall(session, contract_id=contract_id)


@router.delete("/v1/contracts/{contract_id}/firewall")
def remove_firewall(contract_id: Id, who: Operator, session: SessionDep, clock: ClockDep) -> FirewallPublic:
    return firewall_service.remove_firewall_by_request(
        session, contract_id=contract_id, now=clock(), actor=who.actor
    )
