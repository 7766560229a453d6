"""The network module's API commands (table, or --json): pools, addresses, disclosures, usage requests, RDAP.

dcloud pool list --api | create ... --api | update ID [--enable|--disable] [--description T] [--host H ...]
dcloud pool delete ID | utilisation ID
dcloud address history IP | export                 (export: the CSV the API serves)
dcloud disclosure list [--limit N --offset N] | create --address IP --at ISO --request-number N --agency A
dcloud usage-request list [--customer ID] | create --customer ID --reason T | respond ID --response T
dcloud rdap ip ADDRESS | prefix PREFIX LENGTH
"""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.rest import Endpoint, add_api_variant, add_endpoint, arg, pick, resource

POOL_COLUMNS = ("id", "name", "cidr", "network_name", "enabled", "host_names", "description")
_POOL = arg("pool", type=int, help="pool id")


def add_pool_actions(pool_subs: Any, listing: argparse.ArgumentParser, create: Any) -> None:
    """The API actions on `dcloud pool` (beside the store-direct `create` and `list`)."""
    add_api_variant(listing, Endpoint("GET", "/v1/pools", POOL_COLUMNS))
    add_api_variant(create, Endpoint("POST", "/v1/pools", body=_pool_body))
    add_endpoint(
        pool_subs,
        "update",
        "enable or disable a pool, or change its description or hosts",
        Endpoint("PATCH", "/v1/pools/{pool}", body=pick("enabled", "description", "host_names")),
        _POOL,
        arg("--enable", dest="enabled", action="store_const", const=True),
        arg("--disable", dest="enabled", action="store_const", const=False),
        arg("--description"),
        arg("--host", dest="host_names", action="append", help="the hosts the pool serves (repeat)"),
    )
    add_endpoint(
        pool_subs,
        "delete",
        "delete a pool no address is used from",
        Endpoint("DELETE", "/v1/pools/{pool}"),
        _POOL,
    )
    add_endpoint(
        pool_subs,
        "utilisation",
        "size, assigned, quarantined and free addresses",
        Endpoint("GET", "/v1/pools/{pool}/utilisation"),
        _POOL,
    )


def _pool_body(args: argparse.Namespace) -> dict[str, Any]:
    body = {
        "name": args.name,
        "cidr": args.cidr,
        "network_name": args.network,
        "gateway": args.gateway,
        "reserved": list(args.reserve),
        "host_names": list(args.host),
        "description": args.description,
    }
    return {key: value for key, value in body.items() if value is not None}


def add_parsers(subparsers: Any) -> None:
    _address(resource(subparsers, "address", "addresses: who held one when, the assignment register"))
    _disclosure(resource(subparsers, "disclosure", "disclosures to agencies of who held an address"))
    _usage_request(resource(subparsers, "usage-request", "customers' requests for their address records"))
    _rdap(resource(subparsers, "rdap", "the RDAP answers the control plane serves"))


def _address(subs: Any) -> None:
    add_endpoint(
        subs,
        "history",
        "every assignment of one address",
        Endpoint("GET", "/v1/addresses/{ip}/history"),
        arg("ip", help="an IPv4 or IPv6 address"),
    )
    add_endpoint(
        subs,
        "export",
        "the assignment register as CSV",
        Endpoint("GET", "/v1/addresses/export.csv", text=True),
    )


def _disclosure(subs: Any) -> None:
    add_endpoint(
        subs,
        "list",
        "disclosures made",
        Endpoint("GET", "/v1/disclosures", query=pick("limit", "offset")),
        arg("--limit", type=int),
        arg("--offset", type=int),
    )
    add_endpoint(
        subs,
        "create",
        "record a disclosure: who held ADDRESS at a moment, for an agency's request",
        Endpoint("POST", "/v1/disclosures", body=pick("address", "at", "request_number", "agency")),
        arg("--address", required=True),
        arg("--at", required=True, help="ISO time with offset"),
        arg("--request-number", required=True),
        arg("--agency", required=True),
    )


def _usage_request(subs: Any) -> None:
    add_endpoint(
        subs,
        "list",
        "usage-record requests, optionally of one customer",
        Endpoint("GET", "/v1/usage-requests", query=pick("customer_id")),
        arg("--customer", dest="customer_id", type=int),
    )
    add_endpoint(
        subs,
        "create",
        "record a customer's request for their usage records",
        Endpoint("POST", "/v1/usage-requests", body=pick("customer_id", "reason")),
        arg("--customer", dest="customer_id", required=True, type=int),
        arg("--reason", required=True),
    )
    add_endpoint(
        subs,
        "respond",
        "answer a usage-record request",
        Endpoint("POST", "/v1/usage-requests/{request}/response", body=pick("response")),
        arg("request", type=int),
        arg("--response", required=True),
    )


def _rdap(subs: Any) -> None:
    add_endpoint(
        subs, "ip", "the RDAP answer for one address", Endpoint("GET", "/rdap/ip/{address}"), arg("address")
    )
    add_endpoint(
        subs,
        "prefix",
        "the RDAP answer for a prefix",
        Endpoint("GET", "/rdap/ip/{prefix}/{length}"),
        arg("prefix"),
        arg("length", type=int),
    )
