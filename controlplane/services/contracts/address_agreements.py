"""Extra addresses by agreement (Art. 24(1)): one address per server, more only within a recorded
agreement (who agreed for the customer, when, how many). A new agreement replaces the previous one;
`network.service.allocate_extra_address` allocates only within the one in force."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from controlplane.errors import Conflict
from controlplane.models.customer import ContractState
from controlplane.models.workflows import AddressAgreement
from controlplane.schemas.workflows import AddressAgreementCreate
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from network.models import AddressLease

_LIVE = (ContractState.APPROVED, ContractState.ACTIVE, ContractState.RESTRICTED)


def record_agreement(
    session: Session, *, contract_id: int, request: AddressAgreementCreate, now: datetime, actor: str
) -> AddressAgreement:
    contract = lock_contract(session, contract_id)
    if contract.state not in _LIVE:
        raise Conflict(f"contract {contract_id} is {contract.state}: no addresses to agree on", field="state")
    in_use = session.exec(
        select(func.count())
        .select_from(AddressLease)
        .where(
            AddressLease.contract_id == contract_id,
            AddressLease.kind == "extra",
            col(AddressLease.released_at).is_(None),
        )
    ).one()
    if request.extra_addresses < in_use:
        raise Conflict(
            f"contract {contract_id} uses {in_use} extra addresses; release them before agreeing on fewer",
            field="extra_addresses",
        )
    before = {
        "allowed": contract.extra_addresses_allowed,
        "approved_by": contract.extra_addresses_approved_by,
    }
    for previous in session.exec(
        select(AddressAgreement).where(
            AddressAgreement.contract_id == contract_id, col(AddressAgreement.ended_at).is_(None)
        )
    ).all():
        previous.ended_at = now
        session.add(previous)
    agreement = AddressAgreement(contract_id=contract_id, recorded_by=actor, **request.model_dump())
    session.add(agreement)
    contract.extra_addresses_allowed = request.extra_addresses
    contract.extra_addresses_approved_by = request.agreed_by[:128]
    contract.updated_at = now
    session.add(contract)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="contract",
        entity_id=contract_id,
        action="address_agreement",
        clause="Art. 24(1)",
        before=before,
        after={"agreement_id": agreement.id, **request.model_dump(mode="json")},
    )
    session.commit()
    return agreement


def agreements_of(session: Session, contract_id: int) -> list[AddressAgreement]:
    query = select(AddressAgreement).where(AddressAgreement.contract_id == contract_id)
    return list(session.exec(query.order_by(col(AddressAgreement.id))).all())
