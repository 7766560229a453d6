"""What a libvirt domain's `<title>` and `<description>` may show of a server's name: one printable line.

libvirt refuses a title with a line break, and `virsh list --title` or virt-manager print the rest raw,
so a control or bidi character would reach an operator's terminal (ESC sequences, reordered text).
C0 controls and DEL are shown as their Unicode control pictures (LF as U+2424 "symbol for newline",
as before, ESC as U+241B); C1
controls, bidi controls and the line/paragraph separators as a visible `\\uXXXX`. The exact name stays
in the domain's dcloud metadata.
"""

from __future__ import annotations

import re

_C0_AND_DEL = re.compile(r"[\x00-\x1f\x7f]")
_OTHER_CONTROLS = re.compile(r"[\x80-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return {0x0A: "\u2424", 0x7F: "\u2421"}.get(code) or chr(0x2400 + code)


def domain_title(name: str) -> str:
    """The title libvirt will accept and a terminal shows as-is (identical for a plain name)."""
    pictured = _C0_AND_DEL.sub(_picture, name)
    return _OTHER_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", pictured)
