"""How `dcloud <resource> …` prints an API answer: a table by default, the API's JSON body with --json.

A list prints as one row per item under the columns its command names; one object prints as a
two-column FIELD/VALUE table of every field (the way `openstack … show` does). Nested values print as
compact JSON so one row stays one line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def render(body: Any, *, columns: Sequence[str], as_json: bool) -> str:
    """The text to print for one API answer (no trailing newline)."""
    if as_json:
        return json.dumps(body, ensure_ascii=False, indent=2)
    if body is None:
        return "(nothing)"
    if isinstance(body, list):
        return list_table(body, columns)
    if isinstance(body, dict):
        return field_table(body)
    return cell(body)


class FieldMissing(Exception):
    """`--value FIELD` named a field the answer does not have."""


def field_values(body: Any, name: str) -> str:
    """`--value FIELD`: the field's raw value, one line per item of a list (like `openstack -f value`)."""
    rows = body if isinstance(body, list) else [body]
    if not rows:
        return ""
    if not all(isinstance(row, dict) for row in rows) or any(name not in row for row in rows):
        known = ", ".join(rows[0]) if isinstance(rows[0], dict) else "none"
        raise FieldMissing(f"--value: the answer has no field {name!r} (fields: {known})")
    return "\n".join(cell(row[name]) for row in rows)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value).replace("\n", " ")


def list_table(rows: list[Any], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    names = (list(columns) or list(rows[0])) if isinstance(rows[0], dict) else ["value"]
    cells = [[cell(row.get(name) if isinstance(row, dict) else row) for name in names] for row in rows]
    return table([name.upper() for name in names], cells)


def field_table(body: dict[str, Any]) -> str:
    return table(["FIELD", "VALUE"], [[key, cell(value)] for key, value in body.items()])


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(text) for text in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * width for width in widths], *rows]
    return "\n".join(
        "  ".join(text.ljust(w) for text, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )
