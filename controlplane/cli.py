"""`dcloud`: the one command line of the control plane, the agent and the modules that plug into it.

Configuration comes from DCLOUD_* environment variables; the global flags below override them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from controlplane.config import Settings

EXIT_ERROR = 1

_GLOBAL_FLAGS = {
    "database_url": ("--database-url", "store URL (DCLOUD_DATABASE_URL; default sqlite:///./var/dcloud.db)"),
    "api_url": ("--api-url", "control plane URL the agent talks to (DCLOUD_API_URL)"),
    "token": ("--token", "bearer token for the agent (DCLOUD_TOKEN)"),
    "libvirt_uri": ("--libvirt-uri", "libvirt connection of this host (DCLOUD_LIBVIRT_URI)"),
    "host_name": ("--host-name", "this host's name in dcloud (DCLOUD_HOST_NAME; default: hostname)"),
    "state_dir": ("--state-dir", "where tokens and local state live (DCLOUD_STATE_DIR; default ./var)"),
}


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment first, then any global flag given on the command line."""
    overrides = {key: getattr(args, key) for key in _GLOBAL_FLAGS if getattr(args, key, None) is not None}
    return Settings(**overrides)


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


def cmd_serve(args: argparse.Namespace) -> int:
    from controlplane.cli_up import run_api

    settings = settings_from(args)
    bind, port = args.bind or settings.api_host, args.port or settings.api_port
    scheduler = bool(args.with_scheduler)
    return run_api(settings, bind=bind, port=port, log_level=args.log_level, with_scheduler=scheduler)


def cmd_agent(args: argparse.Namespace) -> int:
    from agents.runner import run_agent  # imported late: it needs libvirt, the API does not

    run_agent(settings_from(args))
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from controlplane.cli_admin import create_token

    print(create_token(settings_from(args), role=args.role, host=args.host, name=args.name))
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from controlplane.cli_admin import revoke_token

    revoke_token(settings_from(args), token_id=args.token_id)
    print(f"token {args.token_id} revoked")
    return 0


def cmd_host_register(args: argparse.Namespace) -> int:
    from controlplane.cli_admin import register_host

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
    from controlplane.cli_admin import host_table

    print(host_table(settings_from(args)))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from controlplane.cli_up import run_all_in_one

    return run_all_in_one(
        settings_from(args),
        bind=args.bind,
        port=args.port,
        with_agent=not args.no_agent,
        with_whois=not args.no_whois,
    )


def _leaf(
    subs: Any, name: str, func: Any, help_: str, description: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subs.add_parser(name, help=help_, description=description or help_)
    parser.set_defaults(func=func)
    return parser


def _add_server_parsers(subs: Any) -> None:
    up = _leaf(
        subs,
        "up",
        cmd_up,
        "all-in-one on this host: API + scheduler + local agent + WHOIS",
        "Upgrades the store, registers this host with its local libvirt on first start, creates an "
        "agent token (under the state dir) and an admin token (printed once, saved to "
        "<state dir>/admin.token, mode 0600), then runs the API, the scheduler, the local agent and "
        "the WHOIS server until SIGINT/SIGTERM.",
    )
    up.add_argument("--bind", help="API listen address (default DCLOUD_API_HOST, 127.0.0.1)")
    up.add_argument("--port", type=int, help="API port (default DCLOUD_API_PORT, 8080)")
    up.add_argument("--no-agent", action="store_true", help="do not run the local host agent")
    up.add_argument("--no-whois", action="store_true", help="do not run the WHOIS server")
    serve = _leaf(subs, "serve", cmd_serve, "run the API (and with --with-scheduler the scheduler); no agent")
    serve.add_argument("--bind", help="listen address (default DCLOUD_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default DCLOUD_API_PORT, 8080)")
    serve.add_argument("--log-level", default="info", help="uvicorn log level")
    serve.add_argument(
        "--with-scheduler",
        action="store_true",
        help="also run the scheduler (invoicing, sweeps, notices); only the elected leader runs jobs",
    )
    _leaf(
        subs,
        "agent",
        cmd_agent,
        "run one host agent (needs DCLOUD_TOKEN of role agent and DCLOUD_API_URL)",
        "Pulls this host's desired state from the control plane, converges libvirt, reports observed state.",
    )


def _add_admin_parsers(subs: Any) -> None:
    token = subs.add_parser(
        "token",
        help="API tokens (direct store access, for bootstrapping)",
        description="Create or revoke API tokens directly in the store.",
    )
    token_subs = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    create = _leaf(token_subs, "create", cmd_token_create, "create a token and print it (shown only once)")
    create.add_argument(
        "--role", required=True, choices=["admin", "operator", "billing", "auditor", "agent", "disclosure"]
    )
    create.add_argument("--host", help="host an agent token is bound to (required for --role agent)")
    create.add_argument("--name", help="label shown in token lists and the audit trail (default: the role)")
    revoke = _leaf(token_subs, "revoke", cmd_token_revoke, "revoke a token by id")
    revoke.add_argument("token_id", type=int)
    db = subs.add_parser("db", help="store schema", description="Store schema migrations (Alembic).")
    db_subs = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = _leaf(db_subs, "upgrade", cmd_db_upgrade, "apply migrations up to a revision (default head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    host = subs.add_parser("host", help="hypervisor hosts", description="Register and list hypervisor hosts.")
    host_subs = host.add_subparsers(dest="host_command", required=True, metavar="COMMAND")
    register = _leaf(
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
    _leaf(host_subs, "list", cmd_host_list, "list hosts with health and capacity in use")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for key, (flag, help_) in _GLOBAL_FLAGS.items():
        parser.add_argument(flag, dest=key, help=help_)
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_server_parsers(subs)
    _add_admin_parsers(subs)
    _add_module_parsers(subs)
    return parser


def _add_module_parsers(subs: Any) -> None:
    """The terms engine and the network module add their own subcommands."""
    from controlplane import cli_billing, cli_enforcement, cli_policy, cli_terms
    from network import cli as network_cli

    cli_terms.add_parsers(subs)
    network_cli.add_parsers(subs)
    cli_enforcement.add_parsers(subs)
    cli_billing.add_parsers(subs)
    cli_policy.add_parsers(subs)


def main(argv: Sequence[str] | None = None) -> int:
    from controlplane.errors import DcloudError
    from controlplane.services.policies import PolicyFileInvalid, configure_policies

    args = build_parser().parse_args(argv)
    try:
        # Every command decides with the deployment's policy versions; a bad file stops it here.
        configure_policies(settings_from(args).policy_file)
    except PolicyFileInvalid as exc:
        print(f"dcloud {args.command}: error: DCLOUD_POLICY_FILE: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except DcloudError as exc:
        where = f"{exc.field}: " if exc.field else ""
        print(f"dcloud {args.command}: error: {where}{exc.message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
