"""`dcloud termination …` and `dcloud dispute …`: the Art. 20, 21 and 35 workflows, through the API.

dcloud termination list [--status awaiting_settlement]
dcloud termination propose CONTRACT --kind insolvency|ex_officio --reason TEXT
dcloud termination request CONTRACT --last-day YYYY-MM-DD --reason TEXT   (the customer's own request)
dcloud termination confirm ID        (a second operator: never the proposer's token, never billing)
dcloud termination withdraw ID --reason TEXT
dcloud termination show ID
dcloud dispute list [--open]
dcloud dispute file INVOICE --amount KRW --reason TEXT
dcloud dispute answer ID --outcome upheld|corrected [--corrected-amount KRW] --answer TEXT
"""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.api_client import add_api_flags, call
from controlplane.cli.args import iso_date
from controlplane.cli.routes import calls


def add_parsers(subparsers: Any) -> None:
    _termination(subparsers)
    _dispute(subparsers)


def _termination(subparsers: Any) -> None:
    top = subparsers.add_parser(
        "termination",
        help="terminations: propose, confirm, withdraw, list",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subs = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = subs.add_parser("list", help="terminations, optionally by status")
    listing.add_argument(
        "--status",
        choices=["proposed", "scheduled", "withdrawn", "terminating", "awaiting_settlement", "completed"],
    )
    propose = subs.add_parser("propose", help="propose an ex-officio or insolvency termination")
    propose.add_argument("contract", type=int)
    propose.add_argument("--kind", required=True, choices=["ex_officio", "insolvency"])
    propose.add_argument("--reason", required=True)
    request = subs.add_parser("request", help="record the customer's own termination (7 days notice)")
    request.add_argument("contract", type=int)
    request.add_argument("--last-day", required=True, type=iso_date, help="the last day of service")
    request.add_argument("--reason", required=True)
    request.add_argument("--refused-fee-increase", action="store_true")
    confirm = subs.add_parser("confirm", help="confirm a proposal (a different operator)")
    confirm.add_argument("termination", type=int)
    withdraw = subs.add_parser("withdraw", help="withdraw a termination that has not started")
    withdraw.add_argument("termination", type=int)
    withdraw.add_argument("--reason", required=True)
    show = subs.add_parser("show", help="one termination")
    show.add_argument("termination", type=int)
    for parser in (listing, propose, request, confirm, withdraw, show):
        add_api_flags(parser)
        parser.set_defaults(func=cmd_termination)
    calls(listing, ("GET", "/v1/terminations"))
    calls(propose, ("POST", "/v1/contracts/{contract}/terminations"))
    calls(request, ("POST", "/v1/contracts/{contract}/terminations"))
    calls(confirm, ("POST", "/v1/terminations/{termination}/confirm"))
    calls(withdraw, ("POST", "/v1/terminations/{termination}/withdraw"))
    calls(show, ("GET", "/v1/terminations/{termination}"))


def _dispute(subparsers: Any) -> None:
    top = subparsers.add_parser(
        "dispute",
        help="invoice disputes: file, answer, list (Art. 35)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subs = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = subs.add_parser("list", help="disputes")
    listing.add_argument("--open", action="store_true", help="only those not answered yet")
    file = subs.add_parser("file", help="dispute an invoice (within 15 days of it being sent)")
    file.add_argument("invoice", type=int)
    file.add_argument("--amount", required=True, type=int)
    file.add_argument("--reason", required=True)
    answer = subs.add_parser("answer", help="answer a dispute (within 7 days)")
    answer.add_argument("dispute", type=int)
    answer.add_argument("--outcome", required=True, choices=["upheld", "corrected"])
    answer.add_argument("--corrected-amount", type=int, default=0)
    answer.add_argument("--answer", required=True)
    for parser in (listing, file, answer):
        add_api_flags(parser)
        parser.set_defaults(func=cmd_dispute)
    calls(listing, ("GET", "/v1/disputes"))
    calls(file, ("POST", "/v1/invoices/{invoice}/disputes"))
    calls(answer, ("POST", "/v1/disputes/{dispute}/answer"))


def cmd_termination(args: argparse.Namespace, client: Any = None) -> int:
    match args.action:
        case "list":
            query = f"?status={args.status}" if args.status else ""
            return call(args, "GET", f"/v1/terminations{query}", client=client)
        case "propose":
            return call(
                args,
                "POST",
                f"/v1/contracts/{args.contract}/terminations",
                {"kind": args.kind, "reason": args.reason},
                client=client,
            )
        case "request":
            return call(
                args,
                "POST",
                f"/v1/contracts/{args.contract}/terminations",
                {
                    "kind": "customer_request",
                    "reason": args.reason,
                    "effective_on": args.last_day.isoformat(),
                    "refused_fee_increase": args.refused_fee_increase,
                },
                client=client,
            )
        case "show":
            return call(args, "GET", f"/v1/terminations/{args.termination}", client=client)
        case "confirm":
            return call(args, "POST", f"/v1/terminations/{args.termination}/confirm", client=client)
        case "withdraw":
            return call(
                args,
                "POST",
                f"/v1/terminations/{args.termination}/withdraw",
                {"reason": args.reason},
                client=client,
            )
    raise ValueError(f"unknown termination action {args.action!r}")


def cmd_dispute(args: argparse.Namespace, client: Any = None) -> int:
    match args.action:
        case "list":
            return call(
                args, "GET", f"/v1/disputes?open_only={'true' if args.open else 'false'}", client=client
            )
        case "file":
            return call(
                args,
                "POST",
                f"/v1/invoices/{args.invoice}/disputes",
                {"amount": args.amount, "reason": args.reason},
                client=client,
            )
        case "answer":
            return call(
                args,
                "POST",
                f"/v1/disputes/{args.dispute}/answer",
                {"outcome": args.outcome, "corrected_amount": args.corrected_amount, "answer": args.answer},
                client=client,
            )
    raise ValueError(f"unknown dispute action {args.action!r}")
