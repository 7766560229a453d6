"""What of a recipient may appear in logs: never the address itself (personal data)."""

from __future__ import annotations


def mask_recipient(recipient: str) -> str:
    """`b***@example.kr`, `+82-***-0100`: enough for an operator to tell two apart, not to contact."""
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = [c for c in recipient if c.isdigit()]
    return f"***{''.join(digits[-4:])}" if digits else "***"
