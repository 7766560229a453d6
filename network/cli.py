"""`dcloud` subcommands of the network module (whois-server, pools)."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the network module's subcommands on the `dcloud` parser."""
