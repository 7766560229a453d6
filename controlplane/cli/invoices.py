"""`dcloud invoices run|preview`: the monthly invoicing run and its dry run, from the billing desk."""

from __future__ import annotations

import argparse
import json
from datetime import date

from controlplane.cli.args import iso_date, year_month
from controlplane.cli.settings import settings_from
from controlplane.clock import system_clock
from controlplane.terms.calendar import seoul_date, seoul_midnight
from controlplane.terms.plain import to_plain


def cmd_invoices_run(args: argparse.Namespace) -> int:
    from controlplane.db import make_engine
    from controlplane.services.billing.invoicing import generate_invoices

    now = system_clock()
    as_of: date = args.as_of or seoul_date(now)
    if args.as_of is not None:
        now = seoul_midnight(as_of)  # "what happens on that day": the run is stamped with it
    engine = make_engine(settings_from(args).database_url)
    try:
        report = generate_invoices(engine, month=args.month, as_of=as_of, now=now)
    finally:
        engine.dispose()
    print(
        json.dumps(vars(report))
        if args.json
        else f"{report.month}: {report.created} invoices created, "
        f"{report.already_invoiced} already invoiced, "
        f"{report.nothing_to_bill} with nothing to bill, {report.failed} failed "
        f"(of {report.considered} contracts)"
    )
    return 0


def cmd_invoices_preview(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from controlplane.db import make_engine
    from controlplane.services.billing.invoicing import preview_invoice

    engine = make_engine(settings_from(args).database_url)
    try:
        with Session(engine) as session:
            result = preview_invoice(session, contract_id=args.contract, month=args.month)
    finally:
        engine.dispose()
    if result is None:
        print(
            json.dumps(None) if args.json else f"contract {args.contract}: nothing to bill for {args.month}"
        )
        return 0
    plain = {"contract_id": result.contract_id, "kinds": list(result.kinds), **to_plain(result.draft)}
    if args.json:
        print(json.dumps(plain))
        return 0
    for kind, line in zip(result.kinds, result.draft.lines, strict=True):
        print(f"{kind:<9} {line.amount:>14,} KRW  {line.description}  [{line.clause}]")
    d = result.draft
    print(
        f"supply {d.supply_amount:,} KRW, VAT {d.vat:,} KRW [{d.vat_clause}], total {d.total:,} KRW; "
        f"send by {d.send_by}, due {d.due} [{d.dates_clause}]"
    )
    return 0


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `dcloud invoices` on the `dcloud` parser."""
    invoices = subparsers.add_parser(
        "invoices",
        help="monthly invoicing (Art. 31, 32)",
        description="Run a month's invoicing or show one contract's dry run.",
    )
    subs = invoices.add_subparsers(dest="invoices_command", required=True, metavar="COMMAND")
    run = subs.add_parser(
        "run",
        help="invoice every billable contract for a month (idempotent)",
        description="Invoice every billable contract for MONTH; reruns create nothing twice.",
    )
    run.add_argument("--month", type=year_month, required=True, help="month of use, YYYY-MM")
    run.add_argument("--as-of", type=iso_date, help="run as on this Seoul day (default today)")
    run.add_argument("--json", action="store_true", help="print the run's report as JSON")
    run.set_defaults(func=cmd_invoices_run)
    preview = subs.add_parser(
        "preview",
        help="what a contract's invoice for a month would be (nothing written)",
        description="Dry run: the same computation as the run, nothing written.",
    )
    preview.add_argument("--contract", type=int, required=True, help="contract id")
    preview.add_argument("--month", type=year_month, required=True, help="month of use, YYYY-MM")
    preview.add_argument("--json", action="store_true", help="print the invoice as JSON")
    preview.set_defaults(func=cmd_invoices_preview)
