"""/v1/enforcement: the sweep's dry run and its application; /v1/invoices/{id}/extension (Art. 33(1))."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from controlplane.api.deps import ClockDep, EngineDep, Principal, SessionDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.enforcement import ApplyResultPublic, ExtensionCreate
from controlplane.schemas.types import Day, Id
from controlplane.services.enforcement import sweep as enforcement
from controlplane.services.enforcement.extensions import approve_extension
from controlplane.terms.calendar import seoul_date

router = APIRouter(tags=["enforcement"])

Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.BILLING, Role.AUDITOR))]


@router.get("/v1/enforcement/plan")
def plan_sweep(
    _who: Reader, session: SessionDep, clock: ClockDep, as_of: Annotated[Day | None, Query()] = None
) -> list[dict[str, Any]]:
    now = clock()
    actions = enforcement.plan(session, as_of or seoul_date(now), now=now)
    return [a.to_json() for a in actions]


@router.post("/v1/enforcement/apply")
def apply_sweep(
    who: Operator,
    session: SessionDep,
    engine: EngineDep,
    clock: ClockDep,
    as_of: Annotated[Day | None, Query()] = None,
) -> ApplyResultPublic:
    now = clock()
    day = as_of or seoul_date(now)
    actions = enforcement.plan(session, day, now=now)
    session.close()  # apply takes its own transactions, one per contract
    result = enforcement.apply(engine, actions, day, who.actor, now=now)
    return ApplyResultPublic(
        as_of=day,
        applied=[a.to_json() for a in result.applied],
        dropped=[{**a.to_json(), "why": why} for a, why in result.dropped],
        failed=[{**a.to_json(), "error": err} for a, err in result.failed],
    )


@router.post("/v1/invoices/{invoice_id}/extension")
def extend_invoice(
    invoice_id: Id, body: ExtensionCreate, who: Operator, session: SessionDep, clock: ClockDep
) -> dict[str, Any]:
    invoice = approve_extension(
        session, invoice_id=invoice_id, until=body.extension_until, now=clock(), actor=who.actor
    )
    return {
        "invoice_id": invoice.id,
        "due_date": invoice.due_date.isoformat(),
        "extension_until": body.extension_until.isoformat(),
        "extension_approved_by": invoice.extension_approved_by,
        "clause": "Art. 33(1)",
    }
