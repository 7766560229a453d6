"""`dcloud policy show [--version V] [--as-of DATE]`: the terms policy versions of this deployment as JSON;
`dcloud policy check FILE`: validate a policy file before pointing DCLOUD_POLICY_FILE at it; `dcloud policy
list` and `dcloud policy get VERSION`: the versions the running control plane has, through the API.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from controlplane.cli.args import iso_date
from controlplane.cli.rest import Endpoint, add_endpoint, arg
from controlplane.terms.policy import Policy

EXIT_INVALID = 1


def add_parsers(subparsers: Any) -> None:
    """Registers `dcloud policy show|check` on the `dcloud` parser."""
    policy = subparsers.add_parser(
        "policy",
        help="terms policy versions (DCLOUD_POLICY_FILE)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subs = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    show = subs.add_parser("show", help="every version (or one) with all its numbers, as JSON")
    show.add_argument("--version", dest="policy_version", help="only this version (exit 1 if unknown)")
    show.add_argument(
        "--as-of", type=iso_date, help="the Asia/Seoul day that decides `current` (default: today)"
    )
    show.set_defaults(func=cmd_policy_show)
    check = subs.add_parser("check", help="validate a policy file; prints its versions or the error")
    check.add_argument("file")
    check.set_defaults(func=cmd_policy_check)
    add_endpoint(
        subs,
        "list",
        "the versions the running control plane decides with (through the API)",
        Endpoint("GET", "/v1/policies"),
    )
    add_endpoint(
        subs,
        "get",
        "one version as the running control plane has it (through the API)",
        Endpoint("GET", "/v1/policies/{version}"),
        arg("version"),
    )


def _record(policy: Policy, current: str) -> dict[str, Any]:
    from controlplane.policy_registry import is_builtin

    return {
        **policy.to_dict(),
        "current": policy.version == current,
        "source": "built-in" if is_builtin(policy) else "deployment",
    }


def cmd_policy_show(args: argparse.Namespace) -> int:
    from controlplane import policy_registry as policies
    from controlplane.clock import system_clock
    from controlplane.terms.calendar import seoul_date

    as_of = args.as_of or seoul_date(system_clock())
    current = policies.current_policy(as_of).version
    if args.policy_version is not None:
        _emit(_record(policies.policy_or_not_found(args.policy_version), current))
    else:
        _emit(
            {
                "as_of": as_of.isoformat(),
                "current": current,
                "versions": [_record(p, current) for p in policies.known_policies()],
            }
        )
    return 0


def cmd_policy_check(args: argparse.Namespace) -> int:
    from controlplane.policy_registry import PolicyFileInvalid, load_policy_file

    try:
        loaded = load_policy_file(args.file)
    except PolicyFileInvalid as exc:
        print(f"dcloud policy check: error: {exc.field}: {exc.message}", file=sys.stderr)
        return EXIT_INVALID
    _emit({"file": args.file, "versions": [p.to_dict() for p in loaded]})
    return 0


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
