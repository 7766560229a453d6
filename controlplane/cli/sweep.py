"""`dcloud sweep --as-of DATE [--apply]`: the enforcement plan as JSON lines; `--apply` executes it.

Each line is one action (kind, contract, clause, reason, deadline, key). With `--apply` each line also
says whether it was applied, dropped (fresh facts no longer support it, e.g. a payment landed) or failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlmodel import Session

from controlplane.cli.args import iso_date
from controlplane.cli.settings import settings_from

EXIT_FAILED = 1


def add_parsers(subparsers: Any) -> None:
    """Registers `dcloud sweep` on the `dcloud` parser."""
    sweep = subparsers.add_parser(
        "sweep",
        help="the enforcement sweep (restrict / lift / terminate / notify), dry run by default",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument("--as-of", type=iso_date, help="the Asia/Seoul day to decide for (default: today)")
    sweep.add_argument("--apply", action="store_true", help="execute the plan (each action re-checked)")
    sweep.add_argument("--actor", default="cli:sweep", help="who the audit trail names (default cli:sweep)")
    sweep.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from controlplane.clock import system_clock
    from controlplane.db import make_engine
    from controlplane.services.enforcement import sweep as enforcement
    from controlplane.terms.calendar import seoul_date

    engine = make_engine(settings_from(args).database_url)
    now = system_clock()
    as_of = args.as_of or seoul_date(now)
    with Session(engine) as session:
        actions = enforcement.plan(session, as_of, now=now)
    if not args.apply:
        for action in actions:
            _emit({"as_of": as_of.isoformat(), **action.to_json()})
        return 0
    result = enforcement.apply(engine, actions, as_of, args.actor, now=now)
    for action in result.applied:
        _emit({"as_of": as_of.isoformat(), "outcome": "applied", **action.to_json()})
    for action, why in result.dropped:
        _emit({"as_of": as_of.isoformat(), "outcome": "dropped", "why": why, **action.to_json()})
    for action, error in result.failed:
        _emit({"as_of": as_of.isoformat(), "outcome": "failed", "error": error, **action.to_json()})
    return EXIT_FAILED if result.failed else 0


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
