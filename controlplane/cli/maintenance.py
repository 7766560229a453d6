"""`dcloud maintenance …`: maintenance windows (Art. 10(8), 14), through the API.

dcloud maintenance list [--state scheduled|notified|in_progress|completed|cancelled]
dcloud maintenance create --kind regular|irregular --start ISO --end ISO --host NAME [--host NAME ...]
                          [--action none|drain|suspend-and-resume] [--reason TEXT]
dcloud maintenance reschedule ID --start ISO --end ISO
dcloud maintenance cancel ID --reason TEXT
dcloud maintenance show ID

Times carry their offset (`2027-03-10T01:00+09:00` or `2027-03-09T16:00Z`); a time without one is read
as Asia/Seoul. Regular windows must lie inside 00:00-07:00 Seoul on one day.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from controlplane.cli.api_client import add_api_flags, call
from controlplane.cli.routes import calls

_SEOUL = ZoneInfo("Asia/Seoul")


def moment(text: str) -> str:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time such as 2027-03-10T01:00+09:00, got {text!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_SEOUL)
    return parsed.isoformat()


def add_parsers(subparsers: Any) -> None:
    top = subparsers.add_parser(
        "maintenance",
        help="maintenance windows: create, list, reschedule, cancel",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subs = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = subs.add_parser("list", help="windows, optionally by state")
    listing.add_argument(
        "--state", choices=["scheduled", "notified", "in_progress", "completed", "cancelled"]
    )
    create = subs.add_parser("create", help="a regular or irregular window on some hosts")
    create.add_argument("--kind", required=True, choices=["regular", "irregular"])
    create.add_argument("--start", required=True, type=moment)
    create.add_argument("--end", required=True, type=moment)
    create.add_argument("--host", required=True, action="append", dest="hosts")
    create.add_argument(
        "--action", dest="window_action", default="none", choices=["none", "drain", "suspend-and-resume"]
    )
    create.add_argument("--reason")
    reschedule = subs.add_parser("reschedule", help="new times; the affected customers are told again")
    reschedule.add_argument("window", type=int)
    reschedule.add_argument("--start", required=True, type=moment)
    reschedule.add_argument("--end", required=True, type=moment)
    cancel = subs.add_parser("cancel", help="cancel a window not yet started (notified customers are told)")
    cancel.add_argument("window", type=int)
    cancel.add_argument("--reason", required=True)
    show = subs.add_parser("show", help="one window with its hosts and notices")
    show.add_argument("window", type=int)
    for parser in (listing, create, reschedule, cancel, show):
        add_api_flags(parser)
        parser.set_defaults(func=cmd_maintenance)
    calls(listing, ("GET", "/v1/maintenance-windows"))
    calls(create, ("POST", "/v1/maintenance-windows"))
    calls(reschedule, ("PATCH", "/v1/maintenance-windows/{window}"))
    calls(cancel, ("POST", "/v1/maintenance-windows/{window}/cancel"))
    calls(show, ("GET", "/v1/maintenance-windows/{window}"))


def cmd_maintenance(args: argparse.Namespace, client: Any = None) -> int:
    match args.action:
        case "list":
            query = f"?state={args.state}" if args.state else ""
            return call(args, "GET", f"/v1/maintenance-windows{query}", client=client)
        case "create":
            body = {
                "kind": args.kind,
                "action": args.window_action,
                "starts_at": args.start,
                "ends_at": args.end,
                "hosts": args.hosts,
                "reason": args.reason,
            }
            return call(args, "POST", "/v1/maintenance-windows", body, client=client)
        case "show":
            return call(args, "GET", f"/v1/maintenance-windows/{args.window}", client=client)
        case "reschedule":
            body = {"starts_at": args.start, "ends_at": args.end}
            return call(args, "PATCH", f"/v1/maintenance-windows/{args.window}", body, client=client)
        case "cancel":
            body = {"reason": args.reason}
            return call(args, "POST", f"/v1/maintenance-windows/{args.window}/cancel", body, client=client)
    raise ValueError(f"unknown maintenance action {args.action!r}")
