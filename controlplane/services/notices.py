"""The notice outbox (Art. 13): queued in the decision's transaction, delivered afterwards, at least once.

Queueing is `INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`, so a decision that reruns never queues the same
notice twice. Delivery claims one notice at a time with a conditional UPDATE that pushes `next_attempt_at`
forward by a lease (`... WHERE sent_at IS NULL AND next_attempt_at <= now`): exactly one worker wins the
claim on SQLite and PostgreSQL alike, and a worker that dies mid-send only delays the notice by the lease.

What a control plane killed during delivery leaves (tests/billing/test_delivery_crash.py kills a real one):
- before the claim commits, or after it but before the channel accepted the message: nothing was sent;
  the notice goes out once, when the lease has passed.
- after the channel accepted it but before `sent_at` committed: the outbox cannot know the message left,
  so it sends it again when the lease has passed. That is the one duplicate at-least-once allows, and it
  is marked as one: every attempt carries the notice's key (the e-mail's Message-ID, the SMS gateway's
  client reference), so the relay, the mailbox or the gateway can tell it from a new notice.
Exactly once would need the channel to take part in our transaction; SMTP cannot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from controlplane.clock import Clock
from controlplane.db import session_scope
from controlplane.models.billing import Invoice
from controlplane.models.customer import Customer
from controlplane.models.notices import Notice
from controlplane.notify.email import DeliveryFailed, EmailSender
from controlplane.notify.messages import NoticeDraft
from controlplane.notify.privacy import mask_recipient
from controlplane.notify.sms import SmsProvider
from controlplane.services.inserts import insert_ignoring_conflicts, table_of

log = logging.getLogger(__name__)

# Longer than any SMTP timeout, so a live worker never loses its claim mid-send.
CLAIM_LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
# After this many failed attempts a notice is given up (about a day of backoff) and pages an operator
# (`dcloud_notices_exhausted`); what waited on it (a termination's wipe order) may then proceed.
MAX_ATTEMPTS = 12

# Hooks run after a notice whose key starts with the prefix is delivered or given up, in their own
# transaction: (session, dedupe_key, moment). Registered by the services that wait on a notice.
_SETTLED_HOOKS: list[tuple[str, Callable[[Session, str, datetime], None]]] = []


def on_notice_settled(prefix: str, hook: Callable[[Session, str, datetime], None]) -> None:
    _SETTLED_HOOKS.append((prefix, hook))


def email_notice_out(session: Session, key: str) -> dict[str, str] | None:
    """How the e-mail notice queued under `key` left the outbox: delivered to the relay, or given up
    after MAX_ATTEMPTS; None while it is still waiting (or was never queued)."""
    notice = session.exec(select(Notice).where(Notice.dedupe_key == f"{key}:email")).first()
    if notice is None:
        return None
    if notice.sent_at is not None:
        return {"outcome": "delivered", "at": notice.sent_at.isoformat(), "notice_id": str(notice.id)}
    if notice.attempts >= MAX_ATTEMPTS and notice.last_error is not None:
        return {"outcome": "exhausted", "attempts": str(notice.attempts), "notice_id": str(notice.id)}
    return None


class Contact(Protocol):
    """Where a customer's notices go (Art. 13); a Customer row is one."""

    @property
    def id(self) -> int | None: ...

    @property
    def email(self) -> str: ...

    @property
    def sms_phone(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ContactInfo:
    id: int | None
    email: str
    sms_phone: str | None


def notice_rows(
    *, customer: Contact, contract_id: int | None, draft: NoticeDraft, dedupe_key: str, now: datetime
) -> list[dict[str, Any]]:
    """One outbox row per channel the customer registered: e-mail always, SMS when a phone is on file."""
    channels = [("email", customer.email)]
    if customer.sms_phone:
        channels.append(("sms", customer.sms_phone))
    return [
        {
            "customer_id": customer.id,
            "contract_id": contract_id,
            "channel": channel,
            "kind": draft.kind,
            "clause": draft.clause,
            "recipient": recipient,
            "subject": draft.subject,
            "body": draft.body,
            "dedupe_key": f"{dedupe_key}:{channel}",
            "created_at": now,
            "next_attempt_at": now,
            "attempts": 0,
        }
        for channel, recipient in channels
    ]


def queue_notice_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Adds rows to the outbox in the caller's transaction; duplicates by dedupe key are skipped."""
    insert_ignoring_conflicts(session, table_of(Notice), rows, conflict_columns=["dedupe_key"])


def queue_notice(
    session: Session,
    *,
    customer: Customer,
    contract_id: int | None,
    draft: NoticeDraft,
    dedupe_key: str,
    now: datetime,
) -> None:
    """Queues `draft` on every channel of the customer, once per `dedupe_key`, in the caller's transaction."""
    queue_notice_rows(
        session,
        notice_rows(customer=customer, contract_id=contract_id, draft=draft, dedupe_key=dedupe_key, now=now),
    )


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0


class DeliveryStep(StrEnum):
    """The points of one notice's delivery between which a crash leaves a different outbox."""

    CLAIMED = "claimed"  # the claim committed; nothing handed to the channel yet
    HANDED_OVER = "handed_over"  # the channel accepted the message; `sent_at` not yet committed


# Called after each step with the notice's id. Production passes none; the crash tests pass one that
# kills the process there (scheduler/faults.py).
DeliveryHook = Callable[[DeliveryStep, int], None]


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes after each failed attempt, at most 6 hours."""
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), MAX_BACKOFF)


def deliver_due_notices(
    engine: Engine,
    sender: EmailSender,
    sms: SmsProvider,
    clock: Clock,
    *,
    batch: int = 100,
    after_step: DeliveryHook | None = None,
) -> DeliveryReport:
    """Sends every notice whose time has come; failures are retried later with backoff."""
    report = DeliveryReport()
    for notice_id in _due_ids(engine, clock(), batch):
        notice = _claim(engine, notice_id, clock())
        if notice is None:
            continue  # another worker claimed it first
        if after_step is not None:
            after_step(DeliveryStep.CLAIMED, notice_id)
        try:
            _send(notice, sender, sms)
        except DeliveryFailed as exc:
            _record_failure(engine, notice, clock(), str(exc))
            report.failed += 1
            continue
        if after_step is not None:
            after_step(DeliveryStep.HANDED_OVER, notice_id)
        _mark_sent(engine, notice_id, clock())
        report.sent += 1
    return report


def _due_ids(engine: Engine, now: datetime, batch: int) -> list[int]:
    with session_scope(engine) as session:
        query = (
            select(Notice.id)
            .where(
                col(Notice.sent_at).is_(None),
                col(Notice.next_attempt_at) <= now,
                col(Notice.attempts) < MAX_ATTEMPTS,
            )
            .order_by(col(Notice.next_attempt_at), col(Notice.id))
            .limit(batch)
        )
        return [i for i in session.exec(query).all() if i is not None]


def _claim(engine: Engine, notice_id: int, now: datetime) -> Notice | None:
    """Compare-and-swap on `next_attempt_at`: only one worker's UPDATE matches a due, unsent notice."""
    with session_scope(engine) as session:
        result = session.execute(
            update(Notice)
            .where(col(Notice.id) == notice_id, col(Notice.sent_at).is_(None))
            .where(col(Notice.next_attempt_at) <= now)
            .values(next_attempt_at=now + CLAIM_LEASE, attempts=col(Notice.attempts) + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return session.get(Notice, notice_id)


def _send(notice: Notice, sender: EmailSender, sms: SmsProvider) -> None:
    # The dedupe key (one per notice and channel) identifies every attempt of this notice to the channel.
    if notice.channel == "sms":
        sms.send(phone=notice.recipient, text=f"{notice.subject}\n{notice.body}", key=notice.dedupe_key)
    else:
        sender.send(
            recipient=notice.recipient, subject=notice.subject, body=notice.body, key=notice.dedupe_key
        )


_INVOICE_KEY = "invoice:"


def invoice_notice_key(invoice_id: int) -> str:
    """The outbox key of an invoice's notice; its delivery is when the invoice counts as sent."""
    return f"{_INVOICE_KEY}{invoice_id}"


def _invoice_id_of(stored_key: str) -> int:
    """`invoice:<id>:<channel>` (notice_rows appends the channel) -> id."""
    return int(stored_key.removeprefix(_INVOICE_KEY).split(":", 1)[0])


def _mark_sent(engine: Engine, notice_id: int, now: datetime) -> None:
    with session_scope(engine) as session:
        sent = update(Notice).where(col(Notice.id) == notice_id).values(sent_at=now, last_error=None)
        session.execute(sent)
        key = session.exec(select(Notice.dedupe_key).where(Notice.id == notice_id)).one()
        _run_settled_hooks(session, key, now)
        if key.startswith(_INVOICE_KEY):
            # Art. 31(1), 35(1): the dispute window runs from the invoice being sent; first channel wins.
            session.execute(
                update(Invoice)
                .where(col(Invoice.id) == _invoice_id_of(key), col(Invoice.sent_at).is_(None))
                .values(sent_at=now)
            )


def _record_failure(engine: Engine, notice: Notice, now: datetime, error: str) -> None:
    # The recipient is personal data: the notice id finds it for whoever may read it (no address in logs).
    log.warning(
        "notice %s (%s to %s) failed: %s", notice.id, notice.channel, mask_recipient(notice.recipient), error
    )
    with session_scope(engine) as session:
        session.execute(
            update(Notice)
            .where(col(Notice.id) == notice.id, col(Notice.sent_at).is_(None))
            .values(next_attempt_at=now + backoff(notice.attempts), last_error=error[:1000])
        )
        if notice.attempts >= MAX_ATTEMPTS:
            log.error(
                "notice %s (%s) given up after %d attempts; an operator must reach the customer",
                notice.id,
                notice.kind,
                notice.attempts,
            )
            _run_settled_hooks(session, notice.dedupe_key, now)


def _run_settled_hooks(session: Session, key: str, now: datetime) -> None:
    for prefix, hook in _SETTLED_HOOKS:
        if key.startswith(prefix):
            hook(session, key, now)
