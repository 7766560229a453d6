"""A logged value cannot forge a log record: the text format keeps every message on one line."""

from __future__ import annotations

import io
import json
import logging

from controlplane.cli.logs import configure_logging


def _emit(log_format: str, message: str, *args: object) -> str:
    stream = io.StringIO()
    handler = configure_logging(log_format=log_format, stream=stream)  # type: ignore[arg-type]
    try:
        logging.getLogger("dctest.escape").warning(message, *args)
    finally:
        logging.getLogger().removeHandler(handler)
    return stream.getvalue()


def test_a_newline_in_a_logged_value_stays_on_the_line() -> None:
    out = _emit("text", "dropped on contract %s: %s", 7, "paid\n2027-01-01 00:00:00 root CRITICAL forged")
    assert out.count("\n") == 1
    assert "paid\\u000a2027-01-01" in out


def test_escape_sequences_and_bidi_are_shown() -> None:
    out = _emit("text", "name %s", "\x1b[31mred\u202e")
    assert "\\u001b[31mred\\u202e" in out and "\x1b" not in out


def test_json_lines_escape_bidi_too() -> None:
    line = _emit("json", "name %s", "a\u202eb\nc")
    assert line.count("\n") == 1
    assert json.loads(line)["message"] == "name a\\u202eb\nc"
