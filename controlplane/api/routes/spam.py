"""/v1/spam-complaints: record, answer, ask the customer, fix report, confirm the SMTP block (Art. 26)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.types import Id
from controlplane.schemas.workflows import (
    SpamAnswer,
    SpamAsk,
    SpamComplaintCreate,
    SpamComplaintPublic,
    SpamFixReport,
    SpamRestrict,
)
from controlplane.services.enforcement import spam as spam_service

router = APIRouter(tags=["spam"])

Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.AUDITOR))]


@router.post("/v1/spam-complaints", status_code=status.HTTP_201_CREATED)
def file_complaint(
    body: SpamComplaintCreate, who: Operator, session: SessionDep, clock: ClockDep
) -> SpamComplaintPublic:
    return spam_service.file_complaint(session, request=body, now=clock(), actor=who.actor)


@router.get("/v1/spam-complaints")
def list_complaints(_who: Reader, session: SessionDep, open_only: bool = False) -> list[SpamComplaintPublic]:
    return spam_service.list_complaints(session, open_only=open_only)


@router.get("/v1/spam-complaints/{complaint_id}")
def get_complaint(complaint_id: Id, _who: Reader, session: SessionDep) -> SpamComplaintPublic:
    return spam_service.get_complaint(session, complaint_id)


@router.post("/v1/spam-complaints/{complaint_id}/answer")
def answer(
    complaint_id: Id, body: SpamAnswer, who: Operator, session: SessionDep, clock: ClockDep
) -> SpamComplaintPublic:
    return spam_service.answer_complaint(
        session, complaint_id=complaint_id, answer=body.answer, now=clock(), actor=who.actor
    )


@router.post("/v1/spam-complaints/{complaint_id}/ask-customer")
def ask_customer(
    complaint_id: Id, body: SpamAsk, who: Operator, session: SessionDep, clock: ClockDep
) -> SpamComplaintPublic:
    return spam_service.ask_customer(
        session, complaint_id=complaint_id, message=body.message, now=clock(), actor=who.actor
    )


@router.post("/v1/spam-complaints/{complaint_id}/fix-report")
def fix_report(
    complaint_id: Id, body: SpamFixReport, who: Operator, session: SessionDep, clock: ClockDep
) -> SpamComplaintPublic:
    return spam_service.report_fix(
        session, complaint_id=complaint_id, report=body.report, now=clock(), actor=who.actor
    )


@router.post("/v1/spam-complaints/{complaint_id}/restrict")
def restrict(
    complaint_id: Id, body: SpamRestrict, who: Operator, session: SessionDep, clock: ClockDep
) -> SpamComplaintPublic:
    return spam_service.confirm_restriction(
        session, complaint_id=complaint_id, request=body, now=clock(), actor=who.actor
    )
