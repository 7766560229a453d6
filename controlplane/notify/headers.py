"""What may go into an e-mail header: one line, no control or bidi character (no header injection).

A subject built from a customer's name or a reason (Text fields may hold newlines) must not add a
header (`\\r\\nBcc: ...`) nor make the standard library refuse the message (it raises on CR/LF, and a
notice that can never be built is a notice never sent). Every header value the SMTP sender sets passes
through `header_text`: each line break becomes a space, every other control or bidi character is
written as a visible `\\uXXXX`, and the result is capped at a length mail clients show.
"""

from __future__ import annotations

import re

MAX_HEADER_CHARS = 900  # RFC 5322 caps a line at 998 octets; folding handles the rest

_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def header_text(value: str) -> str:
    """`value` as one printable header line."""
    one_line = _LINE_BREAKS.sub(" ", value)
    visible = _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", one_line)
    return visible.strip()[:MAX_HEADER_CHARS]
