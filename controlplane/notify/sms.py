"""SMS notices behind a small provider interface; the default provider only logs (no SMS gateway here)."""

from __future__ import annotations

import logging
from typing import Protocol

from controlplane.notify.privacy import mask_recipient

log = logging.getLogger(__name__)


class SmsProvider(Protocol):
    """Hands one text to a gateway; raises `DeliveryFailed` when the gateway refuses it.

    `key` identifies the notice, the same on every retry: a gateway with client references (most take
    one to deduplicate) gets it, so a retry after a crash between its acceptance and the outbox's record
    is recognised as the same message."""

    def send(self, *, phone: str, text: str, key: str) -> None: ...


class LoggingSmsProvider:
    """Records what would be sent; used until a deployment configures a real gateway."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.keys: list[str] = []

    def send(self, *, phone: str, text: str, key: str) -> None:
        log.info("sms to %s (%d characters)", mask_recipient(phone), len(text))  # no number, no message
        self.sent.append((phone, text))
        self.keys.append(key)
