"""Errors of the pure terms engine; services translate them into `controlplane.errors` domain errors."""

from __future__ import annotations


class TermsError(ValueError):
    """Input the terms cannot accept; `field` names the input at fault, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PolicyInvalid(TermsError):
    """A policy value out of range (e.g. a negative day count)."""


class ExtensionTooLate(TermsError):
    """An Art. 33(1) extension beyond the longest the terms allow."""


class IllegalTransition(TermsError):
    """A contract life-cycle event not allowed from the contract's current state."""

    def __init__(self, current_state: str, event: str) -> None:
        super().__init__(f"cannot {event} a contract that is {current_state}", field="state")
        self.current_state = current_state
        self.event = event
