"""`dcloud whois-server` and `dcloud pool create|list`: the network module's subcommands."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from controlplane.cli import network_api
from controlplane.cli.args import leaf
from controlplane.cli.settings import settings_from


def cmd_whois_server(args: argparse.Namespace) -> int:
    from network.whois_server import run_whois_server

    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    settings = settings_from(args)
    port = args.port if args.port is not None else settings.whois_port
    bind = args.bind or settings.whois_bind
    print(f"whois server on {bind}:{port} (RFC 3912); Ctrl-C stops it", flush=True)
    run_whois_server(settings, stop, bind=bind, port=port)
    return 0


def cmd_pool_create(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from controlplane.clock import system_clock
    from controlplane.db import make_engine
    from network.pools import PoolSpec, register_pool

    spec = PoolSpec(
        name=args.name,
        cidr=args.cidr,
        network_name=args.network,
        gateway=args.gateway,
        reserved=tuple(args.reserve),
        host_names=tuple(args.host),
        description=args.description,
    )
    engine = make_engine(settings_from(args).database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            pool = register_pool(session, spec=spec, at=system_clock())
            print(f"pool {pool.id} {pool.name} {pool.cidr} on libvirt network {pool.network_name}")
    finally:
        engine.dispose()
    return 0


def cmd_pool_list(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from controlplane.clock import system_clock
    from controlplane.db import make_engine
    from network.pools import list_pools, utilisation

    engine = make_engine(settings_from(args).database_url)
    try:
        with Session(engine) as session:
            header = ("ID", "NAME", "CIDR", "SIZE", "ASSIGNED", "QUARANT.", "FREE")
            print("{:>4}  {:<16} {:<24} {:>10} {:>9} {:>9} {:>10}".format(*header))
            for pool in list_pools(session):
                use = utilisation(session, pool=pool, at=system_clock())
                print(
                    f"{pool.id:>4}  {pool.name:<16} {pool.cidr:<24} {use.size:>10} {use.assigned:>9} "
                    f"{use.quarantined:>9} {use.free:>10}"
                )
    finally:
        engine.dispose()
    return 0


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the network module's subcommands on the `dcloud` parser."""
    whois = leaf(
        subparsers, "whois-server", cmd_whois_server, "run the WHOIS server (RFC 3912) until stopped"
    )
    whois.set_defaults(long_running=True)
    whois.add_argument(
        "--port", type=int, help="TCP port (default DCLOUD_WHOIS_PORT, 4343; 43 in production)"
    )
    whois.add_argument(
        "--bind", default=None, help="listen address (default DCLOUD_WHOIS_BIND or 127.0.0.1; :: for all)"
    )
    pool = subparsers.add_parser(
        "pool", help="address pools", description="Address pools: create, list, update, delete."
    )
    pool_subs = pool.add_subparsers(dest="pool_command", required=True, metavar="COMMAND")
    create = leaf(pool_subs, "create", cmd_pool_create, "create an address pool (overlaps are refused)")
    create.add_argument("--name", required=True)
    create.add_argument("--cidr", required=True, help="e.g. 192.0.2.0/24 or 2001:db8:1::/64")
    create.add_argument("--network", required=True, help="libvirt network on the hosts carrying the pool")
    create.add_argument("--gateway", help="gateway address (never handed out)")
    create.add_argument("--reserve", action="append", default=[], help="an address never handed out (repeat)")
    create.add_argument("--host", action="append", default=[], help="restrict the pool to a host (repeat)")
    create.add_argument("--description")
    listing = leaf(
        pool_subs, "list", cmd_pool_list, "list pools with size, assigned, quarantined and free counts"
    )
    network_api.add_pool_actions(pool_subs, listing, create)
