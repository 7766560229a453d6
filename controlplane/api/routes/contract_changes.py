"""Contract changes the terms name: open-date postponement (Art. 9(2), 23(2)), legal succession
(Art. 19), extra-address agreements (Art. 24(1))."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.contracts import ContractPublic
from controlplane.schemas.types import Id
from controlplane.schemas.workflows import (
    AddressAgreementCreate,
    AddressAgreementPublic,
    PostponeOpenDate,
    SuccessionCreate,
    SuccessionPublic,
)
from controlplane.services.contracts import address_agreements, successions

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

Writer = Annotated[Principal, Depends(require_roles(Role.BILLING, Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR))]


@router.post("/{contract_id}/postpone-open-date")
def postpone_open_date(
    contract_id: Id, body: PostponeOpenDate, who: Writer, session: SessionDep, clock: ClockDep
) -> ContractPublic:
    contract = successions.postpone_open_date(
        session, contract_id=contract_id, request=body, now=clock(), actor=who.actor
    )
    return ContractPublic.model_validate(contract, from_attributes=True)


@router.post("/{contract_id}/successions", status_code=status.HTTP_201_CREATED)
def file_succession(
    contract_id: Id, body: SuccessionCreate, who: Writer, session: SessionDep, clock: ClockDep
) -> SuccessionPublic:
    return successions.file_succession(
        session, contract_id=contract_id, request=body, now=clock(), actor=who.actor
    )


@router.get("/{contract_id}/successions")
def list_successions(contract_id: Id, _who: Reader, session: SessionDep) -> list[SuccessionPublic]:
    return successions.successions_of(session, contract_id)


@router.post("/{contract_id}/address-agreements", status_code=status.HTTP_201_CREATED)
def record_address_agreement(
    contract_id: Id, body: AddressAgreementCreate, who: Writer, session: SessionDep, clock: ClockDep
) -> AddressAgreementPublic:
    agreement = address_agreements.record_agreement(
        session, contract_id=contract_id, request=body, now=clock(), actor=who.actor
    )
    return AddressAgreementPublic.model_validate(agreement)


@router.get("/{contract_id}/address-agreements")
def list_address_agreements(
    contract_id: Id, _who: Reader, session: SessionDep
) -> list[AddressAgreementPublic]:
    found = address_agreements.agreements_of(session, contract_id)
    return [AddressAgreementPublic.model_validate(a) for a in found]
