"""No header injection: whatever a subject holds (a name, a reason with newlines), the mail that reaches
the relay has exactly the headers dcloud set, each on one line."""

from __future__ import annotations

from collections.abc import Iterator
from email.header import decode_header, make_header

import pytest

from controlplane.notify.headers import header_text
from tests.utils.relay import Relay, running_relay


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


def test_a_subject_with_crlf_adds_no_header(relay: Relay) -> None:
    subject = "Invoice for 주식회사\r\nBcc: victim@example.org\r\n\r\nforged body"
    relay.sender().send(
        recipient="billing@example.kr", subject=subject, body="the real body\n", key="invoice:1:email"
    )
    [message] = relay.recorder.messages
    assert message["Bcc"] is None
    subject_sent = str(make_header(decode_header(message["Subject"])))
    assert " ".join(subject_sent.split()) == "Invoice for 주식회사 Bcc: victim@example.org forged body"
    assert [k for k in message if k.lower() == "bcc"] == []
    assert message.get_payload(decode=True).decode().strip() == "the real body"  # type: ignore[union-attr]


def test_control_and_bidi_characters_are_shown_not_sent() -> None:
    assert header_text("a\x1b[31mb\u202ec\x00") == "a\\u001b[31mb\\u202ec\\u0000"


def test_a_plain_subject_is_unchanged() -> None:
    assert (
        header_text("[D-Cloud] Invoice 2027-02 for contract 7") == "[D-Cloud] Invoice 2027-02 for contract 7"
    )
