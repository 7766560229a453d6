"""Logs carry no personal data: a failed notice names its id and a masked recipient, the SMS provider
neither the number nor the text, and a failed statement never its bound values."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from controlplane.clock import FixedClock
from controlplane.notify import LoggingSmsProvider, SmtpSender
from controlplane.notify.messages import NoticeDraft
from controlplane.notify.privacy import mask_recipient
from controlplane.services.notices import deliver_due_notices, queue_notice
from tests.utils.factories import make_customer
from tests.utils.relay import free_port

NOW = datetime(2027, 3, 1, 3, tzinfo=UTC)


def test_a_failed_notice_logs_a_masked_recipient(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with Session(sqlite_engine) as session:
        customer = make_customer(session, email="kim.secret@example.kr", sms_phone="+82-10-5555-0199")
        draft = NoticeDraft("approval", "Art. 7(2)", "subject", "body")
        queue_notice(session, customer=customer, contract_id=None, draft=draft, dedupe_key="c:1", now=NOW)
        session.commit()
    nowhere = SmtpSender(host="127.0.0.1", port=free_port(), sender="n@d.test", timeout_s=1)
    with caplog.at_level(logging.INFO):
        deliver_due_notices(sqlite_engine, nowhere, LoggingSmsProvider(), FixedClock(NOW))
    logged = caplog.text
    assert "kim.secret" not in logged and "5555-0199" not in logged and "body" not in logged
    assert "k***@example.kr" in logged


def test_masking_keeps_only_enough_to_tell_recipients_apart() -> None:
    assert mask_recipient("kim.secret@example.kr") == "k***@example.kr"
    assert mask_recipient("+82-10-5555-0199") == "***0199"


def test_a_failed_statement_never_shows_its_bound_values(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(text("CREATE TABLE dctest_pii (email TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO dctest_pii VALUES (:e)"), {"e": "kim.secret@example.kr"})
    with pytest.raises(IntegrityError) as err, sqlite_engine.begin() as conn:
        conn.execute(text("INSERT INTO dctest_pii VALUES (:e)"), {"e": "kim.secret@example.kr"})
    assert "kim.secret" not in str(err.value)
