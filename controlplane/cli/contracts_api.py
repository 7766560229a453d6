"""`dcloud customer …`, `dcloud contract …` and `dcloud block …`, through the API (table, or --json).

dcloud customer list [--limit N --offset N] | show ID | credit ID | refund ID --amount KRW
dcloud customer create --name N --email E --address A --contact-name N --contact-phone P [...]
dcloud contract list [--customer ID] | show ID | approve ID | invoices ID | preview ID --month YYYY-MM
dcloud contract create --customer ID --plan P --monthly-fee KRW --desired-open-date YYYY-MM-DD [...]
dcloud contract hold ID --item 1-9 [--note T] | activate ID [--open-date D] [--reason T]
dcloud contract change-plan ID --effective-from D --monthly-fee KRW [--plan P] [--discount KRW]
dcloud contract add-on ID --name N --billing one_off|monthly --fee KRW --started-on D [--ended-on D]
dcloud contract terminate ID --kind customer_request|ex_officio|insolvency --reason T [--last-day D]
dcloud block list CONTRACT | lift ID --reason T
dcloud block create CONTRACT --kind K --notice before|after --reason T [...]
"""

from __future__ import annotations

from typing import Any

from controlplane.cli import contract_changes_api
from controlplane.cli.args import iso_date
from controlplane.cli.rest import Endpoint, add_endpoint, arg, pick, resource, with_dates

CUSTOMER_COLUMNS = ("id", "kind", "name", "email", "contact_name", "contact_phone", "created_at")
CONTRACT_COLUMNS = ("id", "customer_id", "state", "plan", "monthly_fee", "discount", "term_start", "term_end")
INVOICE_COLUMNS = ("id", "contract_id", "month", "total", "paid_amount", "send_by", "due_date")
BLOCK_COLUMNS = ("id", "contract_id", "kind", "scope", "clause", "started_at", "planned_end", "lifted_at")
_CUSTOMER = arg("customer", type=int, help="customer id")
_CONTRACT = arg("contract", type=int, help="contract id")
_PAGE = (arg("--limit", type=int), arg("--offset", type=int))
_CUSTOMER_FIELDS = (
    "kind", "name", "name_en", "billing_party", "email", "sms_phone", "address", "address_en",
    "address_district", "zip_code", "contact_name", "contact_phone", "contact_email",
)  # fmt: skip
_REQUIRED = {"name", "email", "address", "contact_name", "contact_phone"}


def add_parsers(subparsers: Any) -> None:
    _customer(resource(subparsers, "customer", "customers: list, show, create, credit, refund"))
    _contract(
        resource(subparsers, "contract", "contracts: apply, hold, approve, activate, change plan, terminate")
    )
    _block(resource(subparsers, "block", "service blocks on a contract (Art. 22-24): list, create, lift"))


def _customer(subs: Any) -> None:
    add_endpoint(
        subs,
        "list",
        "customers",
        Endpoint("GET", "/v1/customers", CUSTOMER_COLUMNS, query=pick("limit", "offset")),
        *_PAGE,
    )
    add_endpoint(subs, "show", "one customer", Endpoint("GET", "/v1/customers/{customer}"), _CUSTOMER)
    add_endpoint(
        subs,
        "credit",
        "the customer's credit balance",
        Endpoint("GET", "/v1/customers/{customer}/credit"),
        _CUSTOMER,
    )
    add_endpoint(
        subs,
        "refund",
        "refund some of the customer's credit",
        Endpoint("POST", "/v1/customers/{customer}/refunds", body=pick("amount")),
        _CUSTOMER,
        arg("--amount", required=True, type=int, help="KRW"),
    )
    add_endpoint(
        subs,
        "create",
        "register a customer",
        Endpoint("POST", "/v1/customers", body=pick(*_CUSTOMER_FIELDS, "is_minor")),
        arg("--kind", choices=["organisation", "person"]),
        *(arg(f"--{name.replace('_', '-')}", required=name in _REQUIRED) for name in _CUSTOMER_FIELDS[1:]),
        arg("--is-minor", action="store_const", const=True, help="the customer is a minor (Art. 6)"),
    )


def _contract(subs: Any) -> None:
    add_endpoint(
        subs,
        "list",
        "contracts, optionally of one customer",
        Endpoint("GET", "/v1/contracts", CONTRACT_COLUMNS, query=pick("customer_id", "limit", "offset")),
        arg("--customer", dest="customer_id", type=int),
        *_PAGE,
    )
    for name, help_, method, path in (
        ("show", "one contract", "GET", "/v1/contracts/{contract}"),
        ("approve", "approve an application (Art. 5)", "POST", "/v1/contracts/{contract}/approve"),
    ):
        add_endpoint(subs, name, help_, Endpoint(method, path), _CONTRACT)
    add_endpoint(
        subs,
        "invoices",
        "the contract's invoices",
        Endpoint("GET", "/v1/contracts/{contract}/invoices", INVOICE_COLUMNS),
        _CONTRACT,
    )
    add_endpoint(
        subs,
        "preview",
        "what the contract's invoice for a month would be (nothing written)",
        Endpoint("GET", "/v1/contracts/{contract}/invoices/preview", query=pick("month")),
        _CONTRACT,
        arg("--month", required=True, help="month of use, YYYY-MM"),
    )
    _contract_writes(subs)
    _contract_states(subs)
    _contract_changes(subs)
    contract_changes_api.add_contract_actions(subs)


def _contract_writes(subs: Any) -> None:
    add_endpoint(
        subs,
        "create",
        "apply for a contract (Art. 5)",
        Endpoint(
            "POST",
            "/v1/contracts",
            body=with_dates(
                pick(
                    "customer_id",
                    "plan",
                    "monthly_fee",
                    "discount",
                    "billing_cycle",
                    "annual_prepay_discount",
                    "desired_open_date",
                )
            ),
        ),
        arg("--customer", dest="customer_id", required=True, type=int),
        arg("--plan", required=True),
        arg("--monthly-fee", required=True, type=int, help="KRW"),
        arg("--discount", type=int),
        arg("--billing-cycle", choices=["monthly", "annual_prepaid"]),
        arg("--annual-prepay-discount", type=int),
        arg("--desired-open-date", required=True, type=iso_date),
    )


def _contract_states(subs: Any) -> None:
    add_endpoint(
        subs,
        "hold",
        "hold an application (Art. 6 item)",
        Endpoint("POST", "/v1/contracts/{contract}/hold", body=pick("item", "note")),
        _CONTRACT,
        arg("--item", required=True, type=int),
        arg("--note"),
    )
    add_endpoint(
        subs,
        "activate",
        "open the service",
        Endpoint("POST", "/v1/contracts/{contract}/activate", body=with_dates(pick("open_date", "reason"))),
        _CONTRACT,
        arg("--open-date", type=iso_date),
        arg("--reason"),
    )


def _contract_changes(subs: Any) -> None:
    add_endpoint(
        subs,
        "change-plan",
        "request a plan or fee change from a day on",
        Endpoint(
            "POST",
            "/v1/contracts/{contract}/plan-changes",
            body=with_dates(pick("plan", "effective_from", "monthly_fee", "discount")),
        ),
        _CONTRACT,
        arg("--effective-from", required=True, type=iso_date),
        arg("--monthly-fee", required=True, type=int),
        arg("--plan"),
        arg("--discount", type=int),
    )
    add_endpoint(
        subs,
        "add-on",
        "add a one-off or monthly add-on",
        Endpoint(
            "POST",
            "/v1/contracts/{contract}/add-ons",
            body=with_dates(pick("name", "billing", "fee", "started_on", "ended_on")),
        ),
        _CONTRACT,
        arg("--name", required=True),
        arg("--billing", required=True, choices=["one_off", "monthly"]),
        arg("--fee", type=int),
        arg("--started-on", required=True, type=iso_date),
        arg("--ended-on", type=iso_date),
    )
    add_endpoint(
        subs,
        "terminate",
        "record the customer's termination (7 days notice) or propose one (`dcloud termination` confirms)",
        Endpoint(
            "POST",
            "/v1/contracts/{contract}/terminations",
            body=with_dates(pick("kind", "reason", "effective_on")),
        ),
        _CONTRACT,
        arg("--kind", required=True, choices=["customer_request", "ex_officio", "insolvency"]),
        arg("--reason", required=True),
        arg("--last-day", dest="effective_on", type=iso_date, help="the last day of service"),
    )


def _block(subs: Any) -> None:
    add_endpoint(
        subs,
        "list",
        "the contract's blocks",
        Endpoint("GET", "/v1/contracts/{contract}/blocks", BLOCK_COLUMNS),
        _CONTRACT,
    )
    add_endpoint(
        subs,
        "create",
        "block a contract's service",
        Endpoint(
            "POST",
            "/v1/contracts/{contract}/blocks",
            body=pick(
                "kind", "scope", "item", "reason", "notice", "starts_at", "planned_end", "notice_after_reason"
            ),
        ),
        _CONTRACT,
        arg("--kind", required=True, choices=["spam", "security", "emergency", "operator"]),
        arg("--notice", required=True, choices=["before", "after"]),
        arg("--reason", required=True),
        arg("--scope", choices=["full", "smtp"]),
        arg("--item", type=int, help="the Art. 22 item"),
        arg("--starts-at", help="ISO time with offset"),
        arg("--planned-end", help="ISO time with offset"),
        arg("--notice-after-reason", help="why notice before the block was impractical (--notice after)"),
    )
    add_endpoint(
        subs,
        "lift",
        "lift a block",
        Endpoint("POST", "/v1/blocks/{block}/lift", body=pick("reason")),
        arg("block", type=int, help="block id"),
        arg("--reason", required=True),
    )
