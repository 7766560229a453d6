"""`dcloud terms ...`: the billing desk's calculators over the pure terms engine.

Each subcommand prints a human-readable answer (or JSON with `--json`) in which every amount names its
clause. Bad input exits with status 2 and a message naming the flag at fault.

The calculators whose rules have numbers in the policy (late fee, deadlines, penalty, SLA credit) use the
deployment's versions (DCLOUD_POLICY_FILE): the one named by `--policy-version`, else the version in force
on the day that anchors the answer (the due date, the last day of service, the month's first day).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from controlplane import policy_registry as policies
from controlplane.cli.args import in_day_range, iso_date, won, year_month
from controlplane.errors import NotFound
from controlplane.terms.availability import Outage, sla_credit
from controlplane.terms.calendar import SEOUL
from controlplane.terms.clauses import ART_20_7, ART_21_1, ART_32_3, ART_33_1, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.late_fee import late_fee
from controlplane.terms.money import format_won
from controlplane.terms.overdue import latest_extension_date, nonpayment_deadlines
from controlplane.terms.penalty import early_termination_penalty
from controlplane.terms.policy import Policy
from controlplane.terms.proration import prorate
from controlplane.terms.refund import annual_prepay_refund

Report = tuple[list[str], dict[str, Any]]
EXIT_BAD_INPUT = 2


class FlagError(Exception):
    """Input each flag parsed on its own but that is wrong together; names the flag."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag


# -- argument types: argparse turns their ValueError into "argument --flag: invalid ... value" (exit 2)


def won_list(text: str) -> list[int]:
    return [won(part.strip()) for part in text.split(",")]


def seoul_datetime(text: str) -> datetime:
    """ISO 8601 date-time; without an offset it is Seoul time. Its Seoul day must be in the declared
    range (year 1 at +14:00 cannot even be converted to UTC)."""
    moment = datetime.fromisoformat(text)
    in_day_range(moment.date(), text)  # first: a day in range cannot overflow astimezone
    moment = moment.replace(tzinfo=SEOUL) if moment.tzinfo is None else moment
    in_day_range(moment.astimezone(SEOUL).date(), text)
    return moment


def outage(text: str) -> Outage:
    parts = text.split("/")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected STARTED/NOTICED/RESOLVED, got {text!r}")
    try:
        started, noticed, resolved = (seoul_datetime(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ISO 8601 date-times, got {text!r}") from None
    if not started <= resolved:
        raise argparse.ArgumentTypeError(f"RESOLVED is before STARTED in {text!r}")
    if noticed < started:
        raise argparse.ArgumentTypeError(f"NOTICED is before STARTED in {text!r}")
    return Outage(started, noticed, resolved)


# -- output helpers


def amount(won_: int, clause: Clause, **extra: Any) -> dict[str, Any]:
    return {"amount": won_, "currency": "KRW", "clause": str(clause), **extra}


def frac(value: Fraction) -> str:
    """An exact value for people: an integer, or a decimal to 4 places with its exact fraction."""
    if value.denominator == 1:
        return f"{value.numerator:,}"
    return f"{float(value):,.4f} (= {value})"


def ratio(value: Fraction, per: int = 1000) -> str:
    """A rate as the terms write it: 15/1000 rather than the reduced 3/200."""
    scaled = value * per
    return f"{scaled.numerator}/{per}" if scaled.denominator == 1 else str(value)


def policy_in_force(args: argparse.Namespace, on: date) -> Policy:
    """The version `--policy-version` names, else the deployment's version in force on `on`."""
    if args.policy_version is None:
        return policies.current_policy(on)
    try:
        return policies.policy_or_not_found(args.policy_version)
    except NotFound as exc:
        raise FlagError("--policy-version", exc.message) from exc


def version_line(policy: Policy) -> str:
    source = "built-in" if policies.is_builtin(policy) else "deployment"
    return f"terms version {policy.version} ({source}, effective {policy.effective_from})"


# -- subcommands: each returns the human lines and the JSON document


def cmd_late_fee(args: argparse.Namespace) -> Report:
    policy = policy_in_force(args, args.due)
    fee = late_fee(args.unpaid, args.due, args.paid_on, policy=policy)
    lines = [
        f"Late fee (Art. 34): {format_won(fee.amount)}",
        f"  unpaid {format_won(fee.unpaid)}, due {fee.due}, paid {fee.paid_on}: {fee.overdue_days} overdue "
        "days, counted from the day after the due date (Art. 34(3))",
        f"  {fee.unpaid:,} x {ratio(policy.late_fee_rate_monthly)} x {policy.late_fee_months_per_year} x "
        f"{fee.overdue_days}/{policy.late_fee_days_per_year}, floored to the won (Art. 34(2))",
        f"  {version_line(policy)}",
    ]
    doc = {
        "late_fee": amount(
            fee.amount,
            fee.clause,
            unpaid=fee.unpaid,
            due=fee.due.isoformat(),
            paid_on=fee.paid_on.isoformat(),
            overdue_days=fee.overdue_days,
        ),
        "policy_version": policy.version,
    }
    return lines, doc


def cmd_prorate(args: argparse.Namespace) -> Report:
    if args.to < args.from_:
        raise FlagError("--to", f"{args.to} is before --from {args.from_}")
    result = prorate(args.monthly_fee, args.from_, args.to)
    lines = [f"Prorated fee (Art. 32(2),(4)): {format_won(result.amount)} for {result.first}..{result.last}"]
    months = []
    for m in result.months:
        lines.append(
            f"  {m.span.month}: {args.monthly_fee:,} x {m.span.days}/{m.span.month.days} days "
            f"= {frac(m.exact_amount)}"
        )
        months.append(
            {
                "month": str(m.span.month),
                "first": m.span.first.isoformat(),
                "last": m.span.last.isoformat(),
                "days": m.span.days,
                "days_in_month": m.span.month.days,
                "exact_amount": str(m.exact_amount),
            }
        )
    lines.append("  summed exactly, floored to the won once")
    doc = {
        "prorated_fee": amount(
            result.amount,
            result.clause,
            monthly_fee=result.monthly_fee,
            first=result.first.isoformat(),
            last=result.last.isoformat(),
            months=months,
        )
    }
    return lines, doc


def cmd_deadlines(args: argparse.Namespace) -> Report:
    policy = policy_in_force(args, args.due)
    plan = nonpayment_deadlines(args.due, args.extension_until, policy=policy)
    latest = latest_extension_date(args.due, policy=policy)
    extended = " (extended)" if plan.extended else ""
    lines = [
        f"Due date: {plan.due}",
        f"Restriction (Art. 33(1)): {plan.restriction_on}{extended} if still unpaid",
        f"  counted: {plan.restriction_counting}",
        f"Termination (Art. 21(1)): {plan.termination_on} if still unpaid once the "
        f"{policy.terminate_after_restriction_days} full days after the restriction day have passed "
        "(later if the restriction starts later)",
        f"  counted: {plan.termination_counting}",
        f"Latest possible extension (Art. 33(1)): {latest} ({policy.max_extension_after_due_days} full days "
        "after the due date)",
        "Periods are counted as the Civil Act counts them (Art. 157): the event's day is not counted.",
        version_line(policy).capitalize(),
    ]
    doc = {
        "deadlines": {
            "due": plan.due.isoformat(),
            "restriction": {
                "date": plan.restriction_on.isoformat(),
                "clause": str(ART_33_1),
                "extended": plan.extended,
                "counting": plan.restriction_counting,
            },
            "termination": {
                "date": plan.termination_on.isoformat(),
                "clause": str(ART_21_1),
                "counting": plan.termination_counting,
            },
            "latest_extension": {"date": latest.isoformat(), "clause": str(ART_33_1)},
        },
        "policy_version": policy.version,
    }
    return lines, doc


def cmd_penalty(args: argparse.Namespace) -> Report:
    if args.contract_end < args.terminate_on:
        raise FlagError("--contract-end", f"{args.contract_end} is before --terminate-on {args.terminate_on}")
    policy = policy_in_force(args, args.terminate_on)
    result = early_termination_penalty(
        args.monthly_fees,
        args.terminate_on,
        args.contract_end,
        refused_fee_increase=args.refused_fee_increase,
        policy=policy,
    )
    lines = [
        f"Early-termination penalty ({result.clause}): {format_won(result.amount)}",
        f"  {result.reason}",
        f"  average monthly fee of {', '.join(f'{f:,}' for f in result.fees_averaged)} = "
        f"{frac(result.average_monthly_fee)} (Art. 32(3)-1)",
        f"  remaining months after {args.terminate_on} through {args.contract_end}: "
        f"{frac(result.remaining_months)}",
        f"  {version_line(policy)}",
    ]
    doc = {
        "penalty": amount(
            result.amount,
            result.clause,
            reason=result.reason,
            fees_averaged=list(result.fees_averaged),
            average_monthly_fee=str(result.average_monthly_fee),
            remaining_months=str(result.remaining_months),
            terminate_on=args.terminate_on.isoformat(),
            contract_end=args.contract_end.isoformat(),
        ),
        "policy_version": policy.version,
    }
    return lines, doc


def cmd_refund(args: argparse.Namespace) -> Report:
    if args.terminate_on < args.start:
        raise FlagError("--terminate-on", f"{args.terminate_on} is before --start {args.start}")
    result = annual_prepay_refund(
        args.prepaid, args.annual_discount, args.start, args.terminate_on, args.penalty
    )
    lines = [
        f"Annual prepay refund (Art. 20(7)): {format_won(result.amount)}",
        f"  prepaid {result.prepaid:,}",
        f"  - fee for {result.start}..{result.terminate_on} at {result.prepaid:,}/12 a month, "
        f"partial months by days: {frac(result.fee_for_period_used)} (Art. 20(7))",
        f"  - annual prepay discount {result.annual_discount:,} (Art. 20(7))",
        f"  - penalty {result.penalty:,} (Art. 32(3))",
        "  floored to the won, never below 0",
    ]
    doc = {
        "refund": amount(
            result.amount,
            result.clause,
            prepaid=result.prepaid,
            fee_for_period_used={
                "exact": str(result.fee_for_period_used),
                "clause": str(ART_20_7),
                "first": result.start.isoformat(),
                "last": result.terminate_on.isoformat(),
            },
            annual_discount=amount(result.annual_discount, ART_20_7),
            penalty=amount(result.penalty, ART_32_3),
        )
    }
    return lines, doc


def cmd_sla_credit(args: argparse.Namespace) -> Report:
    policy = policy_in_force(args, args.month.first_day)
    result = sla_credit(args.monthly_fee, args.month, args.outage, policy=policy)
    lines = [
        f"SLA credit ({result.clause}): {format_won(result.amount)} for {result.month}",
        f"  availability {float(result.availability_percent):.4f}% (Art. 36(2)-1): "
        f"{frac(result.counted_minutes)} counted outage minutes of {result.month_minutes:,}",
    ]
    for m in result.outages:
        span = ""
        if m.counted_from is not None and m.counted_to is not None:
            span = f" {m.counted_from.isoformat()}..{m.counted_to.isoformat()}"
        lines.append(f"  outage from {m.outage.started.isoformat()}: {m.reason}{span}")
    if result.threshold_crossed_at:
        days = ", ".join(d.isoformat() for d in result.credited_days)
        threshold = f"{float(policy.sla_threshold_percent):g}%"
        lines.append(
            f"  below {threshold} from {result.threshold_crossed_at.isoformat()}; credited days: "
            f"{days} x daily fee {frac(result.daily_fee)} (Art. 36(3))"
        )
    if result.capped:
        lines.append("  capped at the monthly fee (Art. 36(4))")
    lines.append(f"  {version_line(policy)}")
    doc = {
        "sla_credit": amount(
            result.amount,
            result.clause,
            month=str(result.month),
            availability_percent=str(result.availability_percent),
            availability_clause="Art. 36(2)",
            counted_minutes=str(result.counted_minutes),
            month_minutes=result.month_minutes,
            threshold_crossed_at=result.threshold_crossed_at.isoformat()
            if result.threshold_crossed_at
            else None,
            credited_days=[d.isoformat() for d in result.credited_days],
            daily_fee=str(result.daily_fee),
            capped=result.capped,
            outages=[
                {"started": m.outage.started.isoformat(), "counted": m.counted, "reason": m.reason}
                for m in result.outages
            ],
        ),
        "policy_version": policy.version,
    }
    return lines, doc


# -- wiring

Command = Callable[[argparse.Namespace], Report]
# Which flag a TermsError's `field` refers to, where the names differ.
_FIELD_FLAGS = {
    "last": "--to",
    "first": "--from",
    "noticed": "--outage",
    "started": "--outage",
    "resolved": "--outage",
}


def _flag_for(field: str | None) -> str:
    if field is None:
        return "input"
    return _FIELD_FLAGS.get(field, "--" + field.replace("_", "-"))


def _run(command: Command, name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            lines, doc = command(args)
        except FlagError as exc:
            print(f"dcloud terms {name}: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except TermsError as exc:
            print(f"dcloud terms {name}: error: {_flag_for(exc.field)}: {exc.message}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if args.json:
            print(json.dumps({"command": f"terms {name}", **doc}, ensure_ascii=False, indent=2))
        else:
            print("\n".join(lines))
        return 0

    return run


def _subcommand(
    subs: Any, name: str, command: Command, help_: str, *, anchor: str | None = None
) -> argparse.ArgumentParser:
    """`anchor`: the flag whose day picks the policy version in force; None for rules without numbers."""
    parser: argparse.ArgumentParser = subs.add_parser(name, help=help_, description=help_)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    if anchor is not None:
        parser.add_argument(
            "--policy-version",
            metavar="VERSION",
            help=f"terms policy version to apply (default: the one in force on {anchor})",
        )
    parser.set_defaults(func=_run(command, name))
    return parser


def _add_fee_parsers(subs: Any) -> None:
    p = _subcommand(subs, "late-fee", cmd_late_fee, "late fee on an unpaid invoice (Art. 34)", anchor="--due")
    p.add_argument("--unpaid", type=won, required=True, metavar="N", help="unpaid amount, KRW")
    p.add_argument("--due", type=iso_date, required=True, metavar="DATE", help="due date")
    p.add_argument("--paid-on", type=iso_date, required=True, metavar="DATE", help="day of payment")
    p = _subcommand(subs, "prorate", cmd_prorate, "fee for part of a month or months (Art. 32(2),(4))")
    p.add_argument("--monthly-fee", type=won, required=True, metavar="N")
    p.add_argument(
        "--from",
        dest="from_",
        type=iso_date,
        required=True,
        metavar="DATE",
        help="first day of use (inclusive)",
    )
    p.add_argument("--to", type=iso_date, required=True, metavar="DATE", help="last day of use (inclusive)")
    p = _subcommand(
        subs, "deadlines", cmd_deadlines, "restriction and termination dates (Art. 33(1))", anchor="--due"
    )
    p.add_argument("--due", type=iso_date, required=True, metavar="DATE")
    p.add_argument(
        "--extension-until",
        type=iso_date,
        metavar="DATE",
        help="operator-approved restriction date, at most the latest possible extension this command prints",
    )


def _add_termination_parsers(subs: Any) -> None:
    p = _subcommand(
        subs, "penalty", cmd_penalty, "early-termination penalty (Art. 32(3), 17(3))", anchor="--terminate-on"
    )
    p.add_argument(
        "--monthly-fees",
        type=won_list,
        required=True,
        metavar="N,N,N",
        help="fees of the months before the termination month, oldest first, after discount",
    )
    p.add_argument("--terminate-on", type=iso_date, required=True, metavar="DATE", help="last day of service")
    p.add_argument(
        "--contract-end", type=iso_date, required=True, metavar="DATE", help="last day of the term"
    )
    p.add_argument(
        "--refused-fee-increase",
        action="store_true",
        help="the customer ends the contract refusing a fee increase (Art. 17(3)): no penalty",
    )
    p = _subcommand(subs, "refund", cmd_refund, "refund of an annual prepayment (Art. 20(7))")
    p.add_argument("--prepaid", type=won, required=True, metavar="N")
    p.add_argument("--annual-discount", type=won, required=True, metavar="N")
    p.add_argument("--start", type=iso_date, required=True, metavar="DATE", help="first day of the period")
    p.add_argument("--terminate-on", type=iso_date, required=True, metavar="DATE", help="last day of service")
    p.add_argument("--penalty", type=won, default=0, metavar="N", help="early-termination penalty, KRW")
    p = _subcommand(
        subs,
        "sla-credit",
        cmd_sla_credit,
        "availability and SLA credit (Art. 36, 37)",
        anchor="the first day of --month",
    )
    p.add_argument("--monthly-fee", type=won, required=True, metavar="N")
    p.add_argument("--month", type=year_month, required=True, metavar="YYYY-MM")
    p.add_argument(
        "--outage",
        type=outage,
        action="append",
        default=[],
        metavar="STARTED/NOTICED/RESOLVED",
        help="ISO 8601 date-times (Seoul unless an offset is given); repeat per incident",
    )


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `dcloud terms` on the `dcloud` parser; each leaf sets `func(args) -> exit status`."""
    terms = subparsers.add_parser(
        "terms",
        help="billing desk calculators over the terms of service",
        description="billing desk calculators over the terms of service",
    )
    subs = terms.add_subparsers(dest="terms_command", required=True, metavar="COMMAND")
    _add_fee_parsers(subs)
    _add_termination_parsers(subs)
