"""/v1/contracts/{id}/terms-objections and terms-acceptances: a customer's answer to new terms (Art. 3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from controlplane.api.deps import ClockDep, Principal, SessionDep, TenantDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.terms_responses import TermsResponseCreate, TermsResponsePublic
from controlplane.schemas.types import Id
from controlplane.services.contracts import terms_changes
from controlplane.services.tenancy import Owned

router = APIRouter(prefix="/v1/contracts", tags=["terms"])

# Art. 3(3),(4): objecting to or accepting new terms is the customer's own answer, so a tenant gives
# it for its own contracts.
Writer = Annotated[Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR, Role.CUSTOMER))]


@router.post("/{contract_id}/terms-objections")
def object_to_terms(
    contract_id: Id,
    body: TermsResponseCreate,
    who: Writer,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> TermsResponsePublic:
    tenant.owns(Owned.CONTRACT, contract_id, field="contract_id")
    response = terms_changes.object_to_version(
        session, contract_id=contract_id, version=body.version, now=clock(), actor=who.actor
    )
    return TermsResponsePublic.model_validate(response)


@router.post("/{contract_id}/terms-acceptances")
def accept_terms(
    contract_id: Id,
    body: TermsResponseCreate,
    who: Writer,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> TermsResponsePublic:
    tenant.owns(Owned.CONTRACT, contract_id, field="contract_id")
    response = terms_changes.accept_version(
        session, contract_id=contract_id, version=body.version, now=clock(), actor=who.actor
    )
    return TermsResponsePublic.model_validate(response)
