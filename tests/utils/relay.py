"""A real SMTP relay on loopback (aiosmtpd) that keeps what it accepts, for tests of notice delivery."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from controlplane.notify import SmtpSender


class Recorder:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Relay:
    recorder: Recorder
    port: int
    subjects: list[str] = field(default_factory=list)

    def sender(self) -> SmtpSender:
        return SmtpSender(host="127.0.0.1", port=self.port, sender="noreply@dcloud.test")

    def subjects_sent(self) -> list[str]:
        return [str(m["Subject"]) for m in self.recorder.messages]


@contextmanager
def running_relay() -> Iterator[Relay]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Relay(recorder, port)
    finally:
        controller.stop()
