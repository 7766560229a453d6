"""The notice outbox against a real local SMTP server (aiosmtpd): once, to the right person, retried."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.clock import FixedClock
from controlplane.models import Customer, Notice
from controlplane.notify import LoggingSmsProvider, SmtpSender
from controlplane.notify.messages import NoticeDraft
from controlplane.services.notices import deliver_due_notices, queue_notice
from tests.utils.relay import Recorder, free_port, running_relay

DRAFT = NoticeDraft("approval", "Art. 7(2)", "[D-Cloud] Contract 1 approved", "Service opens 2027-03-02.")


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    with running_relay() as relay:
        yield relay.recorder, relay.port


MakeCustomer = Callable[..., Customer]


def queue_one(
    engine: Engine, clock: FixedClock, make_customer: MakeCustomer, *, sms_phone: str | None = None
) -> None:
    with Session(engine) as session:
        customer = make_customer(session, sms_phone=sms_phone)
        queue_notice(
            session, customer=customer, contract_id=None, draft=DRAFT, dedupe_key="c1:approval", now=clock()
        )
        # The same decision rerun queues nothing new.
        queue_notice(
            session, customer=customer, contract_id=None, draft=DRAFT, dedupe_key="c1:approval", now=clock()
        )
        session.commit()


def test_notice_is_delivered_once_to_the_customer(
    sqlite_engine: Engine, clock: FixedClock, smtp: tuple[Recorder, int], customer_factory: MakeCustomer
) -> None:
    recorder, port = smtp
    queue_one(sqlite_engine, clock, customer_factory)
    sender = SmtpSender(host="127.0.0.1", port=port, sender="noreply@dcloud.test")

    first = deliver_due_notices(sqlite_engine, sender, LoggingSmsProvider(), clock)
    second = deliver_due_notices(sqlite_engine, sender, LoggingSmsProvider(), clock)

    assert (first.sent, second.sent) == (1, 0)
    assert len(recorder.messages) == 1
    assert recorder.messages[0]["To"] == "billing@example.kr"
    assert recorder.messages[0]["Subject"] == "[D-Cloud] Contract 1 approved"


def test_sms_goes_through_the_provider_when_a_phone_is_registered(
    sqlite_engine: Engine, clock: FixedClock, smtp: tuple[Recorder, int], customer_factory: MakeCustomer
) -> None:
    recorder, port = smtp
    queue_one(sqlite_engine, clock, customer_factory, sms_phone="010-9999-0000")
    sms = LoggingSmsProvider()

    deliver_due_notices(sqlite_engine, SmtpSender(host="127.0.0.1", port=port, sender="n@d.test"), sms, clock)

    assert [phone for phone, _ in sms.sent] == ["010-9999-0000"]
    assert len(recorder.messages) == 1


def test_failed_smtp_is_retried_later_then_delivered_once(
    sqlite_engine: Engine, clock: FixedClock, customer_factory: MakeCustomer
) -> None:
    queue_one(sqlite_engine, clock, customer_factory)
    port = free_port()  # nothing listens here yet
    sender = SmtpSender(host="127.0.0.1", port=port, sender="n@d.test", timeout_s=2)

    failed = deliver_due_notices(sqlite_engine, sender, LoggingSmsProvider(), clock)
    too_early = deliver_due_notices(sqlite_engine, sender, LoggingSmsProvider(), clock)
    assert (failed.failed, too_early.failed + too_early.sent) == (1, 0)

    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.advance(minutes=1)
        delivered = deliver_due_notices(sqlite_engine, sender, LoggingSmsProvider(), clock)
        clock.advance(minutes=10)
        again = deliver_due_notices(sqlite_engine, sender, LoggingSmsProvider(), clock)
    finally:
        controller.stop()

    assert (delivered.sent, again.sent) == (1, 0)
    assert len(recorder.messages) == 1
    with Session(sqlite_engine) as session:
        notice = session.exec(select(Notice)).one()
    assert notice.attempts == 2 and notice.sent_at == clock() - timedelta(minutes=10)


def test_a_claimed_notice_is_not_sent_by_a_second_worker(
    sqlite_engine: Engine, clock: FixedClock, smtp: tuple[Recorder, int], customer_factory: MakeCustomer
) -> None:
    recorder, port = smtp
    queue_one(sqlite_engine, clock, customer_factory)

    class SecondWorkerInside:
        """While worker 1 sends, worker 2 runs: it must find nothing to claim."""

        def __init__(self) -> None:
            self.inner = SmtpSender(host="127.0.0.1", port=port, sender="n@d.test")
            self.nested_sent = -1

        def send(self, *, recipient: str, subject: str, body: str, key: str) -> None:
            nested = deliver_due_notices(sqlite_engine, self.inner, LoggingSmsProvider(), clock)
            self.nested_sent = nested.sent
            self.inner.send(recipient=recipient, subject=subject, body=body, key=key)

    sender = SecondWorkerInside()
    report = deliver_due_notices(sqlite_engine, sender, LoggingSmsProvider(), clock)

    assert (report.sent, sender.nested_sent) == (1, 0)
    assert len(recorder.messages) == 1


def test_delivering_the_invoice_notice_marks_the_invoice_sent(
    sqlite_engine: Engine,
    clock: FixedClock,
    smtp: tuple[Recorder, int],
    customer_factory: MakeCustomer,
    contract_factory: Callable[..., Any],
) -> None:
    from datetime import date

    from controlplane.models import Invoice
    from controlplane.services.billing.invoicing import generate_invoices
    from controlplane.terms.calendar import YearMonth

    recorder, port = smtp
    with Session(sqlite_engine) as session:
        contract_factory(session, customer_factory(session), term_start=date(2027, 1, 1))
        session.commit()
    generate_invoices(sqlite_engine, month=YearMonth(2027, 1), as_of=date(2027, 2, 1), now=clock())
    with Session(sqlite_engine) as session:
        assert session.exec(select(Invoice)).one().sent_at is None  # queued is not sent
    clock.advance(minutes=5)

    deliver_due_notices(
        sqlite_engine, SmtpSender(host="127.0.0.1", port=port, sender="n@d.test"), LoggingSmsProvider(), clock
    )

    with Session(sqlite_engine) as session:
        assert session.exec(select(Invoice)).one().sent_at == clock()
    assert len(recorder.messages) == 1
