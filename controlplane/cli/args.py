"""What the `dcloud` subcommand parsers share: argument types and the leaf-subcommand helper.

argparse turns an argument type's ArgumentTypeError into "argument --flag: ..." and exit status 2, so a
bad value is named by its flag.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from controlplane.terms.calendar import YearMonth


def iso_date(text: str) -> date:
    """A day, YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def year_month(text: str) -> YearMonth:
    """A month, YYYY-MM."""
    try:
        return YearMonth.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month YYYY-MM, got {text!r}") from None


def leaf(
    subs: Any, name: str, func: Any, help_: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand parser that runs `func(args) -> exit status`."""
    parser: argparse.ArgumentParser = subs.add_parser(name, help=help_, description=description or help_)
    parser.set_defaults(func=func)
    return parser
