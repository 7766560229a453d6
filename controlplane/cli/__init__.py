"""`dcloud`: the one command line of the control plane, the agent and the modules that plug into it.

Configuration comes from DCLOUD_* environment variables; the global flags below override them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

# Each module registers its own subcommands and imports only its siblings below it, never this package:
# the heavy parts (uvicorn, the API, libvirt, the store) load when a command runs, not at parse time.
from controlplane.cli import (
    admin,
    admin_api,
    billing_api,
    cases,
    cases_api,
    console,
    contracts_api,
    fleet_api,
    images,
    invoices,
    jobs,
    maintenance,
    network,
    network_api,
    policy,
    servers,
    sweep,
    terms,
)
from controlplane.cli.logs import LogLevelsInvalid, configure_logging
from controlplane.cli.settings import add_global_flags, settings_from

EXIT_ERROR = 1
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process killed by SIGPIPE (128 + 13)


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with every usage mistake on one line that points at --help, like the CLI's other errors.

    argparse prints the whole usage block first; for a long command that buries the one line that says
    what was wrong. Subcommand parsers inherit the class (add_subparsers uses the parent's type).
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = OneLineErrorParser(
        prog="dcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_global_flags(parser)
    parser.set_defaults(long_running=False)  # `up`, `serve`, `agent`, `whois-server` set it
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    servers.add_parsers(subs)
    admin.add_parsers(subs)
    terms.add_parsers(subs)
    network.add_parsers(subs)
    sweep.add_parsers(subs)
    invoices.add_parsers(subs)
    policy.add_parsers(subs)
    cases.add_parsers(subs)
    jobs.add_parsers(subs)
    maintenance.add_parsers(subs)
    for api_family in (
        fleet_api,
        contracts_api,
        billing_api,
        admin_api,
        cases_api,
        network_api,
    ):  # `dcloud <resource> <action>`
        api_family.add_parsers(subs)
    console.add_parsers(subs)
    images.add_parsers(subs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; a reader that stops early (`dcloud server list | head -1`) ends it quietly."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not as "Exception ignored" at exit
    except BrokenPipeError:
        # Python's advice: point stdout at devnull so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


def _main(argv: Sequence[str] | None) -> int:
    from controlplane.policy_registry import PolicyFileInvalid, configure_policies

    args = build_parser().parse_args(argv)
    settings = settings_from(args)
    try:
        configure_logging(
            log_format=settings.log_format,
            levels=settings.log_levels,
            default_level=logging.INFO if args.long_running else logging.WARNING,
        )
    except LogLevelsInvalid as exc:
        print(f"dcloud {args.command}: error: DCLOUD_LOG_LEVELS: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        # Every command decides with the deployment's policy versions; a bad file stops it here.
        configure_policies(settings.policy_file)
    except PolicyFileInvalid as exc:
        print(f"dcloud {args.command}: error: DCLOUD_POLICY_FILE: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    return _run(args, settings.database_url)


def _run(args: argparse.Namespace, database_url: str) -> int:
    """The command, with every mistake an operator can make reported on one line (no traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    from controlplane.cli import store_errors
    from controlplane.errors import DcloudError

    missing = store_errors.missing_sqlite_file(database_url)
    try:
        return int(args.func(args))
    except DcloudError as exc:
        where = f"{exc.field}: " if exc.field else ""
        print(f"dcloud {args.command}: error: {where}{exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except SQLAlchemyError as exc:
        line = store_errors.describe(exc, database_url, missing=missing)
        print(f"dcloud {args.command}: error: {line}", file=sys.stderr)
        if missing is not None and missing.exists():
            store_errors.remove_created_file(missing)
        return EXIT_ERROR
    except Exception as exc:
        if type(exc).__module__ != "libvirt":
            raise
        print(f"dcloud {args.command}: error: libvirt: {exc}", file=sys.stderr)
        return EXIT_ERROR
