"""`dcloud audit list` and the API actions of `dcloud token …`, through the API (table, or --json).

dcloud audit list [--entity-type T] [--entity-id ID] [--limit N] [--offset N]
dcloud token list | issue --role R --name N [--host H] | delete ID
(`dcloud token create|revoke` write the store directly, for bootstrapping the first admin token.)
"""

from __future__ import annotations

from typing import Any

from controlplane.cli.rest import Endpoint, add_endpoint, arg, pick, resource

TOKEN_COLUMNS = ("id", "name", "role", "host", "created_at", "revoked_at")
AUDIT_COLUMNS = ("id", "at", "actor", "entity_type", "entity_id", "action", "clause")
ROLES = ["admin", "operator", "billing", "auditor", "agent", "disclosure"]


def add_parsers(subparsers: Any) -> None:
    audit = resource(subparsers, "audit", "the audit trail")
    add_endpoint(
        audit,
        "list",
        "audit events, newest first, optionally of one entity",
        Endpoint(
            "GET", "/v1/audit", AUDIT_COLUMNS, query=pick("entity_type", "entity_id", "limit", "offset")
        ),
        arg("--entity-type"),
        arg("--entity-id"),
        arg("--limit", type=int),
        arg("--offset", type=int),
    )


def add_token_actions(token_subs: Any) -> None:
    """The API actions on `dcloud token` (beside the store-direct `create` and `revoke`)."""
    add_endpoint(
        token_subs, "list", "tokens (never their secrets)", Endpoint("GET", "/v1/tokens", TOKEN_COLUMNS)
    )
    add_endpoint(
        token_subs,
        "issue",
        "issue a token through the API (the secret is shown once)",
        Endpoint("POST", "/v1/tokens", body=pick("role", "name", "host")),
        arg("--role", required=True, choices=ROLES),
        arg("--name", required=True),
        arg("--host", help="the host an agent token is bound to"),
    )
    add_endpoint(
        token_subs,
        "delete",
        "revoke a token through the API",
        Endpoint("DELETE", "/v1/tokens/{token_id}"),
        arg("token_id", type=int),
    )
