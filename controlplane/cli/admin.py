"""`dcloud token`, `db` and `host`: bootstrapping straight on the store (no API round trip).

What they do lives in `controlplane.cli.store`, imported when the command runs (it loads the store).
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from typing import Any

from controlplane.cli import admin_api, fleet_api
from controlplane.cli.args import leaf
from controlplane.cli.rest import Endpoint, add_api_variant
from controlplane.cli.settings import settings_from


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from controlplane.db import make_engine
    from controlplane.migrations import current_revision, upgrade

    engine = make_engine(settings_from(args).database_url)
    try:
        upgrade(engine, args.revision)
        print(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()
    return 0


_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """`90m`, `12h`, `30d` -> a timedelta (argparse type: a bad value is a usage error)."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90m, 12h or 30d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def instant(text: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (argparse type); a naive one is refused."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. {text}+09:00")
    return value


def cmd_token_create(args: argparse.Namespace) -> int:
    from controlplane.cli.store import create_token
    from controlplane.clock import system_clock

    expires_at = args.expires_at
    if args.expires_in is not None:
        expires_at = system_clock() + args.expires_in
    token = create_token(
        settings_from(args),
        role=args.role,
        host=args.host,
        name=args.name,
        customer_id=args.customer,
        expires_at=expires_at,
    )
    print(token)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from controlplane.cli.store import revoke_token

    revoke_token(settings_from(args), token_id=args.token_id)
    print(f"token {args.token_id} revoked")
    return 0


def cmd_host_register(args: argparse.Namespace) -> int:
    from controlplane.cli.store import register_host

    settings = settings_from(args)
    host = register_host(
        settings,
        name=args.name or settings.host_name,
        libvirt_uri=args.uri or settings.libvirt_uri,
        vcpus=args.vcpus,
        memory_mib=args.memory_mib,
        disk_gib=args.disk_gib,
    )
    print(f"registered host {host.name}: {host.vcpus} vcpus, {host.memory_mib} MiB, {host.disk_gib} GiB")
    return 0


def cmd_host_list(args: argparse.Namespace) -> int:
    from controlplane.cli.store import host_table

    print(host_table(settings_from(args)))
    return 0


def add_parsers(subs: Any) -> None:
    """Registers `dcloud token`, `db` and `host`."""
    token = subs.add_parser(
        "token",
        help="API tokens (direct store access, for bootstrapping)",
        description="Create or revoke API tokens directly in the store.",
    )
    token_subs = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    create = leaf(token_subs, "create", cmd_token_create, "create a token and print it (shown only once)")
    create.add_argument(
        "--role",
        required=True,
        choices=["admin", "operator", "billing", "auditor", "agent", "disclosure", "customer"],
    )
    create.add_argument("--host", help="host an agent token is bound to (required for --role agent)")
    create.add_argument(
        "--customer", type=int, help="customer id a customer token acts for (required for --role customer)"
    )
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", type=duration, help="lifetime, e.g. 90m, 12h, 30d (at most 731d)")
    expiry.add_argument("--expires-at", type=instant, help="expiry instant, ISO 8601 with a UTC offset")
    create.add_argument("--name", help="label shown in token lists and the audit trail (default: the role)")
    revoke = leaf(token_subs, "revoke", cmd_token_revoke, "revoke a token by id")
    revoke.add_argument("token_id", type=int)
    admin_api.add_token_actions(token_subs)
    db = subs.add_parser("db", help="store schema", description="Store schema migrations (Alembic).")
    db_subs = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = leaf(db_subs, "upgrade", cmd_db_upgrade, "apply migrations up to a revision (default head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    host = subs.add_parser("host", help="hypervisor hosts", description="Register and list hypervisor hosts.")
    host_subs = host.add_subparsers(dest="host_command", required=True, metavar="COMMAND")
    register = leaf(
        host_subs,
        "register",
        cmd_host_register,
        "register a host; capacity not given is read from its libvirt (getInfo, storage pool)",
    )
    register.add_argument("--name", help="host name (default: --host-name or this machine's hostname)")
    register.add_argument("--uri", help="libvirt URI (default DCLOUD_LIBVIRT_URI)")
    register.add_argument("--vcpus", type=int)
    register.add_argument("--memory-mib", type=int)
    register.add_argument("--disk-gib", type=int)
    listing = leaf(host_subs, "list", cmd_host_list, "list hosts with health and capacity in use")
    add_api_variant(listing, Endpoint("GET", "/v1/hosts", fleet_api.HOST_COLUMNS))
    fleet_api.add_host_actions(host_subs)
