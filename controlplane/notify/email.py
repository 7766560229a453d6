"""E-mail notices over SMTP with the standard library; one connection per message keeps failures local.

Every message carries a Message-ID derived from its outbox key, the same on every attempt: the outbox
delivers at least once, and when a control plane dies after the relay accepted a message but before the
outbox recorded it (services/notices.py), the retry is a duplicate that the relay, the mailbox and the
reader can tell from a new notice (RFC 5322 3.6.4: one message, one Message-ID).
"""

from __future__ import annotations

import hashlib
import smtplib
from email.message import EmailMessage
from typing import Protocol

from controlplane.config import Settings
from controlplane.notify.headers import header_text


class DeliveryFailed(Exception):
    """A channel could not hand the message over; the outbox retries it later."""


class EmailSender(Protocol):
    """Hands one message to a relay; `key` identifies the notice (the same on every retry)."""

    def send(self, *, recipient: str, subject: str, body: str, key: str) -> None: ...


def message_id(key: str, sender: str) -> str:
    """The Message-ID of the notice with outbox key `key`: a digest (the key names contracts and kinds,
    which a header seen by every relay on the way need not spell out) at the sender's domain."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    domain = sender.rpartition("@")[2] or "dcloud.invalid"
    return f"<notice.{digest}@{header_text(domain)}>"


class SmtpSender:
    """Sends through one SMTP relay; any SMTP or socket error becomes `DeliveryFailed`."""

    def __init__(self, *, host: str, port: int, sender: str, timeout_s: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSender:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            timeout_s=settings.smtp_timeout_s,
        )

    def send(self, *, recipient: str, subject: str, body: str, key: str) -> None:
        message = EmailMessage()
        # Header values are one line each, whatever a name or a reason held (notify/headers.py).
        message["From"] = header_text(self.sender)
        message["To"] = header_text(recipient)
        message["Subject"] = header_text(subject)
        message["Message-ID"] = message_id(key, self.sender)
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"smtp {self.host}:{self.port}: {exc}") from exc
