"""E-mail notices over SMTP with the standard library; one connection per message keeps failures local."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Protocol

from controlplane.config import Settings
from controlplane.notify.headers import header_text


class DeliveryFailed(Exception):
    """A channel could not hand the message over; the outbox retries it later."""


class EmailSender(Protocol):
    def send(self, *, recipient: str, subject: str, body: str) -> None: ...


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

    def send(self, *, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        # Header values are one line each, whatever a name or a reason held (notify/headers.py).
        message["From"] = header_text(self.sender)
        message["To"] = header_text(recipient)
        message["Subject"] = header_text(subject)
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"smtp {self.host}:{self.port}: {exc}") from exc
