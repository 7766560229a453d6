"""`dcloud up`, `serve` and `agent`: the long-running processes.

What they run lives in `controlplane.cli.up` and `agents.runner`, imported when the command runs: they
need uvicorn, the API and libvirt, which the other subcommands do not.
"""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.args import leaf
from controlplane.cli.settings import settings_from


def cmd_up(args: argparse.Namespace) -> int:
    from controlplane.cli.up import run_all_in_one

    return run_all_in_one(
        settings_from(args),
        bind=args.bind,
        port=args.port,
        with_agent=not args.no_agent,
        with_whois=not args.no_whois,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from controlplane.cli.up import run_api

    settings = settings_from(args)
    bind, port = args.bind or settings.api_host, args.port or settings.api_port
    scheduler = bool(args.with_scheduler)
    return run_api(settings, bind=bind, port=port, log_level=args.log_level, with_scheduler=scheduler)


def cmd_agent(args: argparse.Namespace) -> int:
    import sys

    from agents.runner import run_agent

    try:
        run_agent(settings_from(args))
    except ValueError as exc:  # a setting the agent cannot start without (token, URLs)
        print(f"dcloud agent: error: {exc}", file=sys.stderr)
        return 1
    return 0


def add_parsers(subs: Any) -> None:
    """Registers `dcloud up`, `serve` and `agent`."""
    up = leaf(
        subs,
        "up",
        cmd_up,
        "all-in-one on this host: API + scheduler + local agent + WHOIS",
        "Upgrades the store, registers this host with its local libvirt on first start, creates an "
        "agent token (under the state dir) and an admin token (printed once, saved to "
        "<state dir>/admin.token, mode 0600), then runs the API, the scheduler, the local agent and "
        "the WHOIS server until SIGINT/SIGTERM.",
    )
    up.set_defaults(long_running=True)
    up.add_argument("--bind", help="API listen address (default DCLOUD_API_HOST, 127.0.0.1)")
    up.add_argument("--port", type=int, help="API port (default DCLOUD_API_PORT, 8080)")
    up.add_argument("--no-agent", action="store_true", help="do not run the local host agent")
    up.add_argument("--no-whois", action="store_true", help="do not run the WHOIS server")
    serve = leaf(subs, "serve", cmd_serve, "run the API (and with --with-scheduler the scheduler); no agent")
    serve.set_defaults(long_running=True)
    serve.add_argument("--bind", help="listen address (default DCLOUD_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default DCLOUD_API_PORT, 8080)")
    serve.add_argument("--log-level", help="uvicorn log level")
    serve.add_argument(
        "--with-scheduler",
        action="store_true",
        help="also run the scheduler (invoicing, sweeps, notices); only the elected leader runs jobs",
    )
    agent = leaf(
        subs,
        "agent",
        cmd_agent,
        "run one host agent (needs DCLOUD_TOKEN of role agent and DCLOUD_API_URL)",
        "Pulls this host's desired state from the control plane, converges libvirt, reports observed state.",
    )
    agent.set_defaults(long_running=True)
