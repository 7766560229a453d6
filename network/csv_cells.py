"""What a CSV cell may carry: no formula a spreadsheet would run, no control character.

A customer-supplied text that starts with `=`, `+`, `-`, `@` (or a tab or CR, which some spreadsheets
skip before reading a formula) is prefixed with `'` so it is shown as text (CSV/formula injection).
Line breaks and other control or bidi characters are written as a visible `\\uXXXX`: the csv module
would quote a newline correctly, but a registry's importer reading lines would see a forged row.
"""

from __future__ import annotations

import re

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def csv_cell(value: object) -> str:
    """`value` as a safe CSV cell (None is the empty cell)."""
    text = "" if value is None else str(value)
    if text[:1] in _FORMULA_STARTS:
        text = "'" + text
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
