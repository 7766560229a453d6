"""`dcloud invoice …` and `dcloud payment …`, through the API (table, or --json).

dcloud invoice list CONTRACT | show ID | run --month YYYY-MM [--as-of YYYY-MM-DD] | extend ID --until D
dcloud payment create --customer ID --amount KRW [--contract ID] [--method M] [--reference R]
                      [--received-at ISO] --idempotency-key K
dcloud payment show ID
(`dcloud invoices run|preview` run the same against the store directly.)
"""

from __future__ import annotations

from typing import Any

from controlplane.cli import cases_api
from controlplane.cli.contracts_api import INVOICE_COLUMNS
from controlplane.cli.rest import Endpoint, add_endpoint, arg, pick, resource


def add_parsers(subparsers: Any) -> None:
    invoice = resource(subparsers, "invoice", "invoices (Art. 31, 32): list, show, run")
    add_endpoint(
        invoice,
        "list",
        "a contract's invoices",
        Endpoint("GET", "/v1/contracts/{contract}/invoices", INVOICE_COLUMNS),
        arg("contract", type=int, help="contract id"),
    )
    add_endpoint(
        invoice,
        "show",
        "one invoice with its lines",
        Endpoint("GET", "/v1/invoices/{invoice}"),
        arg("invoice", type=int),
    )
    add_endpoint(
        invoice,
        "run",
        "invoice every billable contract for a month (idempotent)",
        Endpoint("POST", "/v1/invoices/run", query=pick("month", "as_of")),
        arg("--month", required=True, help="month of use, YYYY-MM"),
        arg("--as-of", help="run as on this Seoul day, YYYY-MM-DD"),
    )
    cases_api.add_invoice_actions(invoice)
    _payment(resource(subparsers, "payment", "payments received: record, show"))


def _payment(payment: Any) -> None:
    add_endpoint(
        payment,
        "create",
        "record money received (allocated to the oldest invoices, Art. 33)",
        Endpoint(
            "POST",
            "/v1/payments",
            body=pick(
                "customer_id",
                "contract_id",
                "amount",
                "method",
                "reference",
                "received_at",
                "idempotency_key",
            ),
        ),
        arg("--customer", dest="customer_id", required=True, type=int),
        arg("--amount", required=True, type=int, help="KRW"),
        arg("--contract", dest="contract_id", type=int, help="settle only this contract's invoices"),
        arg("--method", help="e.g. bank_transfer"),
        arg("--reference"),
        arg("--received-at", help="ISO time with offset; default now"),
        arg(
            "--idempotency-key",
            required=True,
            help="the same key on a retry records the payment once (e.g. the bank reference)",
        ),
    )
    add_endpoint(
        payment,
        "show",
        "one payment with its allocations",
        Endpoint("GET", "/v1/payments/{payment}"),
        arg("payment", type=int),
    )
