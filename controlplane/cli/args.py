"""What the `dcloud` subcommand parsers share: argument types and the leaf-subcommand helper.

argparse turns an argument type's ArgumentTypeError into "argument --flag: ..." and exit status 2, so a
bad value is named by its flag. Days, months and amounts have the API's declared ranges
(`controlplane/schemas/types.py`): a day in year 1 or 9999 is a typo, and the terms' date arithmetic
would overflow on it (a traceback instead of an answer).
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from controlplane.schemas.types import DAY_RANGE, FIRST_DAY, LAST_DAY, MAX_WON
from controlplane.terms.calendar import YearMonth


def iso_date(text: str) -> date:
    """A day, YYYY-MM-DD, inside the declared range."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {shown(text)}") from None
    return in_day_range(day, text)


def year_month(text: str) -> YearMonth:
    """A month, YYYY-MM, inside the declared range."""
    try:
        month = YearMonth.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month YYYY-MM, got {shown(text)}") from None
    in_day_range(month.first_day, text)
    return month


def shown(text: str) -> str:
    """The value as an error names it: quoted, and cut short (an error is one line, not an echo)."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def in_day_range(day: date, text: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"expected a day from {DAY_RANGE}, got {shown(text)}")
    return day


def won(text: str) -> int:
    """A whole number of KRW, 0..MAX_WON, in ASCII digits (`str.isdigit` also takes '²' and '٣')."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_WON)) or int(text) > MAX_WON:
        raise argparse.ArgumentTypeError(f"expected whole KRW from 0 to {MAX_WON:,}, got {shown(text)}")
    return int(text)


def leaf(
    subs: Any, name: str, func: Any, help_: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand parser that runs `func(args) -> exit status`."""
    parser: argparse.ArgumentParser = subs.add_parser(name, help=help_, description=description or help_)
    parser.set_defaults(func=func)
    return parser


def json_list(text: str) -> list[Any]:
    """A JSON array given on the command line (e.g. firewall rules)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a JSON array, got {shown(text)} ({exc})") from None
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError(f"expected a JSON array, got {shown(text)}")
    return value
