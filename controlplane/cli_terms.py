"""`dcloud terms ...`: the billing desk's calculators over the pure terms engine."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `dcloud terms` on the `dcloud` parser."""
