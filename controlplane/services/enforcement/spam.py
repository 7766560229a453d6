"""Spam complaints (Art. 26): recorded, answered within 7 days (26(4)); a customer whose server is the
source is asked to act and reports its fix within 7 days of being asked (26(5)); a missed report puts an
outbound SMTP block (16(4)-3..5) into the enforcement plan, which only an operator confirms (26(6)).

Deadlines are fixed from their anchor day with the Civil Act counting (terms/deadlines.py): received on
day E, the answer is due by the end of E+7; asked on day A, the report is due by the end of A+7 and the
restriction may be proposed from A+8.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, or_, select

from controlplane.errors import Conflict, NotFound
from controlplane.models.customer import Contract
from controlplane.models.enforcement import BlockScope
from controlplane.models.server import Server
from controlplane.models.workflows import SpamComplaint
from controlplane.policy_registry import current_policy, pinned_policy
from controlplane.schemas.enforcement import BlockCreate
from controlplane.schemas.workflows import (
    DeadlinePublic,
    SpamComplaintCreate,
    SpamComplaintPublic,
    SpamRestrict,
)
from controlplane.services.audit import record_change
from controlplane.services.contract_lock import lock_contract
from controlplane.services.enforcement.blocks import add_operator_block
from controlplane.services.enforcement.effects import queue_contract_notice
from controlplane.terms.calendar import seoul_date
from controlplane.terms.clauses import ART_26_4, ART_26_5, ART_26_6, Clause
from controlplane.terms.deadlines import Deadline, spam_answer, spam_fix_report
from controlplane.terms.periods import days_after
from controlplane.terms.policy import Policy
from network.models import AddressLease


def file_complaint(
    session: Session, *, request: SpamComplaintCreate, now: datetime, actor: str
) -> SpamComplaintPublic:
    """Records a complaint and the contract it points at (by server, or by who held the address then)."""
    contract_id, server_id = _source(session, request)
    received_on = seoul_date(request.received_at)
    complaint = SpamComplaint(
        **request.model_dump(exclude={"server_id"}),
        server_id=server_id,
        contract_id=contract_id,
        answer_due_on=spam_answer(received_on, policy=_policy(session, contract_id, received_on)).on,
        created_by=actor,
    )
    session.add(complaint)
    session.flush()
    _audit(session, complaint, now=now, actor=actor, action="spam_complaint_filed", clause="Art. 26(3)")
    session.commit()
    return present(complaint)


def answer_complaint(
    session: Session, *, complaint_id: int, answer: str, now: datetime, actor: str
) -> SpamComplaintPublic:
    """Art. 26(4): the spam officer's answer to the complainant (late answers are recorded as late)."""
    complaint = _get(session, complaint_id)
    if complaint.answered_at is not None:
        raise Conflict(f"complaint {complaint_id} is already answered", field="answer")
    complaint.answered_at, complaint.answer = now, answer
    session.add(complaint)
    _audit(session, complaint, now=now, actor=actor, action="spam_complaint_answered", clause="Art. 26(4)")
    session.commit()
    return present(complaint)


def ask_customer(
    session: Session, *, complaint_id: int, message: str, now: datetime, actor: str
) -> SpamComplaintPublic:
    """Art. 26(5): the customer is asked to act; its fix report is due within 7 days of today."""
    complaint = _get(session, complaint_id)
    if complaint.contract_id is None:
        raise Conflict(f"complaint {complaint_id} names no customer's server", field="contract_id")
    if complaint.customer_asked_at is not None:
        raise Conflict(f"complaint {complaint_id}'s customer was already asked", field="customer_asked_at")
    contract = lock_contract(session, complaint.contract_id)
    asked_on = seoul_date(now)
    due = spam_fix_report(asked_on, policy=pinned_policy(contract.terms_version))
    complaint.customer_asked_at, complaint.fix_report_due_on = now, due.on
    session.add(complaint)
    queue_contract_notice(
        session,
        contract,
        kind="spam_fix_requested",
        clause="Art. 26(5)",
        subject=f"Spam from your server: please act (contract {contract.id})",
        body=(
            f"We received a spam complaint about {complaint.address or complaint.server_id}.\n{message}\n"
            f"Please report what you fixed by the end of {due.on.isoformat()} (Art. 26(5)); otherwise "
            "outbound e-mail from your servers may be blocked (Art. 26(6), 16(4)).\n"
        ),
        key=f"spam:{complaint.id}:asked",
        at=now,
    )
    _audit(session, complaint, now=now, actor=actor, action="spam_fix_requested", clause="Art. 26(5)")
    session.commit()
    return present(complaint)


def report_fix(
    session: Session, *, complaint_id: int, report: str, now: datetime, actor: str
) -> SpamComplaintPublic:
    """The customer's fix report: in time, no restriction is proposed; late, it is recorded as late."""
    complaint = _get(session, complaint_id)
    if complaint.customer_asked_at is None:
        raise Conflict(f"complaint {complaint_id}'s customer was never asked", field="customer_asked_at")
    if complaint.fix_reported_at is not None:
        raise Conflict(f"complaint {complaint_id} already has a fix report", field="fix_report")
    complaint.fix_reported_at, complaint.fix_report = now, report
    session.add(complaint)
    _audit(session, complaint, now=now, actor=actor, action="spam_fix_reported", clause="Art. 26(5)")
    session.commit()
    return present(complaint)


def confirm_restriction(
    session: Session, *, complaint_id: int, request: SpamRestrict, now: datetime, actor: str
) -> SpamComplaintPublic:
    """Art. 26(6): the operator confirms the plan's proposal; outbound SMTP is blocked, servers keep
    running. Refused before the report period has fully expired, or when a report came in."""
    complaint = _get(session, complaint_id)
    due_on = complaint.fix_report_due_on
    if complaint.contract_id is None or due_on is None:
        raise Conflict(
            f"complaint {complaint_id}'s customer was never asked to act", field="customer_asked_at"
        )
    if complaint.fix_reported_at is not None:
        raise Conflict(f"complaint {complaint_id} has a fix report: nothing to restrict", field="fix_report")
    if complaint.block_id is not None:
        raise Conflict(
            f"complaint {complaint_id} already led to block {complaint.block_id}", field="block_id"
        )
    if seoul_date(now) <= due_on:
        raise Conflict(
            f"the fix report is due by the end of {due_on.isoformat()}; a restriction may follow from "
            f"{date.fromordinal(due_on.toordinal() + 1).isoformat()} (Art. 26(5),(6))",
            field="fix_report_due_on",
        )
    reason = request.reason or f"no fix report for spam complaint {complaint_id} (Art. 26(6))"
    block = add_operator_block(
        session,
        contract_id=complaint.contract_id,
        request=BlockCreate(
            kind="spam",
            scope=BlockScope.SMTP,
            item=request.item,
            reason=reason,
            notice="after",
            notice_after_reason=f"the customer did not report a fix by {due_on.isoformat()} (Art. 26(5))",
        ),
        now=now,
        actor=actor,
        audit={"spam_complaint_id": complaint_id, "proposed_under": str(ART_26_6)},
    )
    complaint.block_id = block.id
    session.add(complaint)
    _audit(
        session, complaint, now=now, actor=actor, action="spam_restriction_confirmed", clause=str(ART_26_6)
    )
    session.commit()
    return present(complaint)


def list_complaints(session: Session, *, open_only: bool = False) -> list[SpamComplaintPublic]:
    query = select(SpamComplaint)
    if open_only:
        query = query.where(col(SpamComplaint.closed_at).is_(None))
    return [present(c) for c in session.exec(query.order_by(col(SpamComplaint.id))).all()]


def get_complaint(session: Session, complaint_id: int) -> SpamComplaintPublic:
    return present(_get(session, complaint_id))


def fix_reports_missed(session: Session, contract_ids: list[int] | None, as_of: date) -> list[SpamComplaint]:
    """Complaints whose 7 days to report a fix have fully passed on `as_of` with no report nor block."""
    query = select(SpamComplaint).where(
        col(SpamComplaint.fix_report_due_on) < as_of,
        col(SpamComplaint.fix_reported_at).is_(None),
        col(SpamComplaint.block_id).is_(None),
    )
    if contract_ids is not None:
        query = query.where(col(SpamComplaint.contract_id).in_(contract_ids))
    return list(session.exec(query.order_by(col(SpamComplaint.id))).all())


def open_deadlines(session: Session) -> list[tuple[str, date]]:
    """(stage, last day) of every deadline still running or missed: `answer` and `fix_report` (metrics)."""
    query = select(SpamComplaint).where(
        or_(
            col(SpamComplaint.answered_at).is_(None),
            (col(SpamComplaint.fix_report_due_on).is_not(None))
            & col(SpamComplaint.fix_reported_at).is_(None),
        )
    )
    out: list[tuple[str, date]] = []
    for c in session.exec(query).all():
        if c.answered_at is None:
            out.append(("answer", c.answer_due_on))
        if c.fix_report_due_on is not None and c.fix_reported_at is None and c.block_id is None:
            out.append(("fix_report", c.fix_report_due_on))
    return out


def present(c: SpamComplaint) -> SpamComplaintPublic:
    """The complaint with its deadlines, each saying how it was counted from its anchor day."""
    answer_due = _deadline(c.answer_due_on, ART_26_4, "answer the spam complaint", c.received_at)
    fix_due = None
    if c.fix_report_due_on is not None and c.customer_asked_at is not None:
        fix_due = _deadline(c.fix_report_due_on, ART_26_5, "report the spam fix", c.customer_asked_at)
    return SpamComplaintPublic(
        **c.model_dump(exclude={"closed_at", "created_by", "answer_due_on", "fix_report_due_on"}),
        answer_due=answer_due,
        fix_report_due=fix_due,
        answered_in_time=_in_time(c.answered_at, c.answer_due_on),
        fix_reported_in_time=_in_time(c.fix_reported_at, c.fix_report_due_on),
    )


def _deadline(last: date, clause: Clause, what: str, anchor: datetime) -> DeadlinePublic:
    anchor_day = seoul_date(anchor)
    period = days_after(anchor_day, (last - anchor_day).days)
    return DeadlinePublic.of(Deadline(last, clause, what, period.describe()))


def _in_time(at: datetime | None, due_on: date | None) -> bool | None:
    return None if at is None or due_on is None else seoul_date(at) <= due_on


def _source(session: Session, request: SpamComplaintCreate) -> tuple[int | None, str | None]:
    if request.server_id is not None:
        server = session.get(Server, request.server_id)
        if server is None:
            raise NotFound(f"no server {request.server_id}", field="server_id")
        return server.contract_id, server.id
    lease = session.exec(
        select(AddressLease).where(
            AddressLease.address == request.address,
            col(AddressLease.leased_at) <= request.received_at,
            or_(col(AddressLease.released_at).is_(None), col(AddressLease.released_at) > request.received_at),
        )
    ).first()
    if lease is None:
        return None, None  # not our customer's address (then only the answer of 26(4) is owed)
    return lease.contract_id, lease.server_id


def _policy(session: Session, contract_id: int | None, on: date) -> Policy:
    contract = session.get(Contract, contract_id) if contract_id is not None else None
    return pinned_policy(contract.terms_version) if contract is not None else current_policy(on)


def _get(session: Session, complaint_id: int) -> SpamComplaint:
    complaint = session.get(SpamComplaint, complaint_id)
    if complaint is None:
        raise NotFound(f"no spam complaint {complaint_id}", field="complaint_id")
    return complaint


def _audit(
    session: Session, c: SpamComplaint, *, now: datetime, actor: str, action: str, clause: str
) -> None:
    after = present(c).model_dump(mode="json", exclude={"evidence"})
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="spam_complaint",
        entity_id=c.id or 0,
        action=action,
        clause=clause,
        after=after,
    )
