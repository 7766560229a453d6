"""The rest of `dcloud contract …` through the API: firewall, terms, successions, agreements, availability.

dcloud contract firewall ID | set-firewall ID --rules JSON [...] | remove-firewall ID
dcloud contract accept-terms|object-terms ID --version V
dcloud contract successions ID | succeed ID --to-customer ID --kind merger|inheritance|transfer --on D
dcloud contract address-agreements ID | agree-addresses ID --extra N --agreed-by WHO --agreed-at ISO
dcloud contract availability ID | claim-availability ID --month YYYY-MM
dcloud contract postpone ID --to YYYY-MM-DD --reason T
"""

from __future__ import annotations

from typing import Any

from controlplane.cli.args import iso_date, json_list
from controlplane.cli.rest import Endpoint, add_endpoint, arg, pick, with_dates

_CONTRACT = arg("contract", type=int, help="contract id")


def add_contract_actions(subs: Any) -> None:
    _firewall(subs)
    _terms(subs)
    for name, help_, path in (
        ("successions", "the contract's successions", "/v1/contracts/{contract}/successions"),
        ("address-agreements", "extra-address agreements", "/v1/contracts/{contract}/address-agreements"),
        ("availability", "the contract's availability by month", "/v1/contracts/{contract}/availability"),
    ):
        add_endpoint(subs, name, help_, Endpoint("GET", path), _CONTRACT)
    add_endpoint(
        subs,
        "succeed",
        "record a merger, inheritance or transfer to another customer",
        Endpoint(
            "POST",
            "/v1/contracts/{contract}/successions",
            body=with_dates(pick("to_customer_id", "kind", "event_on")),
        ),
        _CONTRACT,
        arg("--to-customer", dest="to_customer_id", required=True, type=int),
        arg("--kind", required=True, choices=["merger", "inheritance", "transfer"]),
        arg("--on", dest="event_on", required=True, type=iso_date),
    )
    add_endpoint(
        subs,
        "agree-addresses",
        "record the customer's agreement to extra addresses",
        Endpoint(
            "POST",
            "/v1/contracts/{contract}/address-agreements",
            body=pick("extra_addresses", "agreed_by", "agreed_at"),
        ),
        _CONTRACT,
        arg("--extra", dest="extra_addresses", required=True, type=int),
        arg("--agreed-by", required=True),
        arg("--agreed-at", required=True, help="ISO time with offset"),
    )
    _dates_and_claims(subs)


def _dates_and_claims(subs: Any) -> None:
    add_endpoint(
        subs,
        "claim-availability",
        "claim the availability credit for a month",
        Endpoint("POST", "/v1/contracts/{contract}/availability-claims", query=pick("month")),
        _CONTRACT,
        arg("--month", required=True, help="YYYY-MM"),
    )
    add_endpoint(
        subs,
        "postpone",
        "postpone the open date",
        Endpoint(
            "POST",
            "/v1/contracts/{contract}/postpone-open-date",
            body=with_dates(pick("new_open_date", "reason")),
        ),
        _CONTRACT,
        arg("--to", dest="new_open_date", required=True, type=iso_date),
        arg("--reason", required=True),
    )


def _firewall(subs: Any) -> None:
    path = "/v1/contracts/{contract}/firewall"
    add_endpoint(subs, "firewall", "the contract's firewall", Endpoint("GET", path), _CONTRACT)
    add_endpoint(
        subs,
        "set-firewall",
        "put the contract's firewall (a paid add-on)",
        Endpoint(
            "PUT",
            path,
            body=with_dates(
                pick("inbound_default", "outbound_default", "rules", "monthly_fee", "started_on")
            ),
        ),
        _CONTRACT,
        arg(
            "--rules",
            required=True,
            type=json_list,
            help='JSON array, e.g. \'[{"direction": "in", "protocol": "tcp", "port_from": 22}]\'',
        ),
        arg("--inbound-default", choices=["accept", "drop"]),
        arg("--outbound-default", choices=["accept", "drop"]),
        arg("--monthly-fee", type=int),
        arg("--started-on", type=iso_date),
    )
    add_endpoint(
        subs, "remove-firewall", "remove the contract's firewall", Endpoint("DELETE", path), _CONTRACT
    )


def _terms(subs: Any) -> None:
    for name, kind, help_ in (
        ("accept-terms", "terms-acceptances", "record the customer accepting a terms version"),
        ("object-terms", "terms-objections", "record the customer objecting to a terms version"),
    ):
        add_endpoint(
            subs,
            name,
            help_,
            Endpoint("POST", f"/v1/contracts/{{contract}}/{kind}", body=pick("version")),
            _CONTRACT,
            arg("--version", required=True, help="the terms version"),
        )
