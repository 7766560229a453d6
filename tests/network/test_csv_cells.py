"""CSV cells: formulas shown as text, control characters shown, never a forged row."""

from __future__ import annotations

import csv
import io

import pytest

from network.csv_cells import csv_cell


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_formula_start_is_neutralised(start: str) -> None:
    assert csv_cell(f"{start}HYPERLINK(evil)").startswith("'")


def test_a_newline_never_starts_a_new_row() -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_cell("a\nb,192.0.2.99"), csv_cell(None)])
    assert buffer.getvalue().count("\n") == 1
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == ["a\\u000ab,192.0.2.99", ""]


def test_bidi_and_escape_are_shown_escaped() -> None:
    assert csv_cell("x\u202ey\x1b") == "x\\u202ey\\u001b"
