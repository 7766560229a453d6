"""`dcloud outage|spam|fee-increase|enforcement …` and `dcloud invoice extend`, through the API.

dcloud outage list [--contract ID] | create --contract ID --started-at ISO [...] | update ID [...]
dcloud spam list [--open] | show ID | create --complainant C --received-at ISO --evidence T [...]
dcloud spam answer|ask-customer|fix-report ID --text T | restrict ID [--item N] [--reason T]
dcloud fee-increase list [--contract ID] | create --contract ID ... | answer ID accepted|refused
dcloud enforcement plan|apply [--as-of YYYY-MM-DD]
dcloud invoice extend ID --until YYYY-MM-DD
"""

from __future__ import annotations

from typing import Any

from controlplane.cli.args import iso_date
from controlplane.cli.rest import Endpoint, add_endpoint, arg, pick, resource, with_dates

OUTAGE_COLUMNS = ("id", "contract_id", "started_at", "resolved_at", "company_fault", "credit_amount")
SPAM_COLUMNS = ("id", "complainant", "received_at", "address", "server_id", "contract_id", "answered_at")
FEE_COLUMNS = ("id", "contract_id", "effective_from", "old_monthly_fee", "new_monthly_fee", "answer")
_EXCLUDED = ["maintenance", "customer_request", "art_15", "art_39"]
_OUTAGE_TIMES = ("resolved_at", "company_fault", "excluded_reason", "cause_learned_at")


def add_parsers(subparsers: Any) -> None:
    _outage(resource(subparsers, "outage", "outages and their availability credits (Art. 27)"))
    _spam(resource(subparsers, "spam", "spam complaints: record, answer, ask the customer, restrict"))
    _fee_increase(resource(subparsers, "fee-increase", "fee increases proposed to customers (Art. 9)"))
    _enforcement(resource(subparsers, "enforcement", "overdue enforcement: what is due, and doing it"))


def add_invoice_actions(invoice_subs: Any) -> None:
    add_endpoint(
        invoice_subs,
        "extend",
        "extend an invoice's payment deadline",
        Endpoint("POST", "/v1/invoices/{invoice}/extension", body=with_dates(pick("extension_until"))),
        arg("invoice", type=int),
        arg("--until", dest="extension_until", required=True, type=iso_date),
    )


def _outage_flags() -> tuple[Any, ...]:
    return (
        arg("--resolved-at", help="ISO time with offset"),
        arg("--company-fault", action="store_const", const=True, help="the company caused it"),
        arg("--excluded-reason", choices=_EXCLUDED),
        arg("--cause-learned-at", help="ISO time with offset"),
    )


def _outage(subs: Any) -> None:
    add_endpoint(
        subs,
        "list",
        "outages, optionally of one contract",
        Endpoint("GET", "/v1/outages", OUTAGE_COLUMNS, query=pick("contract_id")),
        arg("--contract", dest="contract_id", type=int),
    )
    add_endpoint(
        subs,
        "create",
        "record an outage",
        Endpoint(
            "POST",
            "/v1/outages",
            body=pick("contract_id", "started_at", "reported_at", "company_aware_at", *_OUTAGE_TIMES),
        ),
        arg("--contract", dest="contract_id", required=True, type=int),
        arg("--started-at", required=True, help="ISO time with offset"),
        arg("--reported-at"),
        arg("--company-aware-at"),
        *_outage_flags(),
    )
    add_endpoint(
        subs,
        "update",
        "resolve an outage or correct its cause",
        Endpoint("PATCH", "/v1/outages/{outage}", body=pick(*_OUTAGE_TIMES)),
        arg("outage", type=int),
        *_outage_flags(),
    )


def _spam(subs: Any) -> None:
    add_endpoint(
        subs,
        "list",
        "spam complaints",
        Endpoint("GET", "/v1/spam-complaints", SPAM_COLUMNS, query=_open_only),
        arg("--open", action="store_true", help="only those not answered yet"),
    )
    complaint = arg("complaint", type=int, help="complaint id")
    add_endpoint(subs, "show", "one complaint", Endpoint("GET", "/v1/spam-complaints/{complaint}"), complaint)
    add_endpoint(
        subs,
        "create",
        "record a complaint",
        Endpoint(
            "POST",
            "/v1/spam-complaints",
            body=pick("complainant", "received_at", "evidence", "address", "server_id"),
        ),
        arg("--complainant", required=True),
        arg("--received-at", required=True, help="ISO time with offset"),
        arg("--evidence", required=True),
        arg("--address", help="the sending address"),
        arg("--server", dest="server_id"),
    )
    for name, field, help_ in (
        ("answer", "answer", "answer the complainant"),
        ("ask-customer", "message", "ask the customer to fix it"),
        ("fix-report", "report", "record the customer's fix report"),
    ):
        add_endpoint(
            subs,
            name,
            help_,
            Endpoint("POST", f"/v1/spam-complaints/{{complaint}}/{name}", body=pick(field)),
            complaint,
            arg("--text", dest=field, required=True),
        )
    add_endpoint(
        subs,
        "restrict",
        "block the contract's SMTP for the complaint (Art. 22)",
        Endpoint("POST", "/v1/spam-complaints/{complaint}/restrict", body=pick("item", "reason")),
        complaint,
        arg("--item", type=int),
        arg("--reason"),
    )


def _open_only(args: Any) -> dict[str, Any]:
    return {"open_only": "true" if args.open else None}


def _fee_increase(subs: Any) -> None:
    add_endpoint(
        subs,
        "list",
        "fee increase proposals",
        Endpoint("GET", "/v1/fee-increases", FEE_COLUMNS, query=pick("contract_id")),
        arg("--contract", dest="contract_id", type=int),
    )
    add_endpoint(
        subs,
        "create",
        "propose a fee increase to contracts",
        Endpoint(
            "POST",
            "/v1/fee-increases",
            body=with_dates(pick("contract_ids", "new_monthly_fee", "effective_from", "reason")),
        ),
        arg("--contract", dest="contract_ids", required=True, type=int, action="append", help="repeat"),
        arg("--new-monthly-fee", required=True, type=int),
        arg("--effective-from", required=True, type=iso_date),
        arg("--reason", required=True),
    )
    add_endpoint(
        subs,
        "answer",
        "record the customer's answer",
        Endpoint("POST", "/v1/fee-increases/{proposal}/answer", body=pick("answer")),
        arg("proposal", type=int),
        arg("answer", choices=["accepted", "refused"]),
    )


def _enforcement(subs: Any) -> None:
    for name, method, help_ in (
        ("plan", "GET", "what enforcement is due (nothing done)"),
        ("apply", "POST", "do the enforcement that is due"),
    ):
        add_endpoint(
            subs,
            name,
            help_,
            Endpoint(method, f"/v1/enforcement/{name}", query=with_dates(pick("as_of"))),
            arg("--as-of", type=iso_date, help="as on this Seoul day"),
        )
