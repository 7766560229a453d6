"""`dcloud server …` and the API actions of `dcloud host …`, through the API (table, or --json).

dcloud server list [--host NAME] [--state S] [--include-deleted]
dcloud server show|start|stop|suspend|resume|reboot|delete|deletion-record|add-address|consoles ID
dcloud server create --name N --vcpus N --memory-mib N --disk-gib N [--host NAME] [--contract ID]
dcloud server resize ID [--vcpus N] [--memory-mib N] [--disk-gib N]
dcloud host show|orphans NAME
dcloud host create --name N --uri URI --vcpus N --memory-mib N --disk-gib N [--cpu-ratio R] [--ram-ratio R]
dcloud host set-state NAME active|maintenance
(`dcloud host register|list` read and write the store directly, for bootstrapping; `host list --api`
asks the API.)
"""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.rest import Endpoint, add_endpoint, arg, pick, resource

SERVER_COLUMNS = (
    "id",
    "name",
    "host",
    "contract_id",
    "vcpus",
    "memory_mib",
    "desired_state",
    "observed_state",
)
HOST_COLUMNS = ("id", "name", "admin_state", "health", "vcpus", "memory_mib", "disk_gib", "last_heartbeat_at")
ORPHAN_COLUMNS = ("domain_name", "domain_uuid", "state", "first_seen_at", "last_seen_at")
_SERVER = arg("server", help="server id")


def add_parsers(subparsers: Any) -> None:
    subs = resource(
        subparsers, "server", "cloud servers: list, show, create, start, stop, suspend, resume, delete"
    )
    add_endpoint(
        subs,
        "list",
        "servers (deleted ones only with --include-deleted), optionally on one host or in one state",
        Endpoint("GET", "/v1/servers", SERVER_COLUMNS, query=_server_query),
        arg("--host", help="only servers on this host"),
        arg(
            "--state",
            choices=["running", "stopped", "suspended", "deleted", "pending", "error"],
            help="only servers in this state as shown (paused and saved are suspended)",
        ),
        arg("--include-deleted", action="store_true", help="also list deleted servers"),
        arg("--live", action="store_true", help=argparse.SUPPRESS),  # the default now; kept for scripts
    )
    add_endpoint(subs, "show", "one server", Endpoint("GET", "/v1/servers/{server}"), _SERVER)
    add_endpoint(
        subs,
        "create",
        "create a server (placed by the scheduler unless --host)",
        Endpoint(
            "POST", "/v1/servers", body=pick("name", "vcpus", "memory_mib", "disk_gib", "host", "contract_id")
        ),
        arg("--name", required=True),
        arg("--vcpus", required=True, type=int),
        arg("--memory-mib", required=True, type=int),
        arg("--disk-gib", required=True, type=int),
        arg("--host", help="pin to this host"),
        arg("--contract", dest="contract_id", type=int, help="the contract the server belongs to"),
    )
    _server_actions(subs)


def _server_actions(subs: Any) -> None:
    for action in ("start", "stop", "suspend", "resume", "reboot"):
        add_endpoint(
            subs, action, f"{action} a server", Endpoint("POST", f"/v1/servers/{{server}}/{action}"), _SERVER
        )
    add_endpoint(
        subs,
        "delete",
        "delete a server (Art. 26 record kept)",
        Endpoint("DELETE", "/v1/servers/{server}"),
        _SERVER,
    )
    add_endpoint(
        subs,
        "resize",
        "change a server's vCPUs, memory or disk (disks only grow)",
        Endpoint("POST", "/v1/servers/{server}/resize", body=pick("vcpus", "memory_mib", "disk_gib")),
        _SERVER,
        arg("--vcpus", type=int),
        arg("--memory-mib", type=int),
        arg("--disk-gib", type=int),
    )
    add_endpoint(
        subs,
        "add-address",
        "give a server one more address (within the contract's agreement)",
        Endpoint("POST", "/v1/servers/{server}/extra-addresses"),
        _SERVER,
    )
    add_endpoint(
        subs,
        "consoles",
        "the server's console sessions, who opened them and when",
        Endpoint("GET", "/v1/servers/{server}/console-sessions"),
        _SERVER,
    )
    add_endpoint(
        subs,
        "deletion-record",
        "what was deleted, when, by whom",
        Endpoint("GET", "/v1/servers/{server}/deletion-record"),
        _SERVER,
    )


def _server_query(args: Any) -> dict[str, Any]:
    return {
        "host": args.host,
        "state": args.state,
        "include_deleted": "true" if args.include_deleted else None,
    }


def add_host_actions(host_subs: Any) -> None:
    """The API actions on `dcloud host` (beside the store-direct `register` and `list`)."""
    name = arg("host_name_arg", metavar="NAME", help="host name")
    add_endpoint(
        host_subs, "show", "one host with capacity in use", Endpoint("GET", "/v1/hosts/{host_name_arg}"), name
    )
    add_endpoint(
        host_subs,
        "create",
        "register a host through the API (capacity as given; `host register` reads it from libvirt)",
        Endpoint(
            "POST",
            "/v1/hosts",
            body=pick(
                "name",
                "libvirt_uri",
                "vcpus",
                "memory_mib",
                "disk_gib",
                "cpu_allocation_ratio",
                "ram_allocation_ratio",
            ),
        ),
        arg("--name", required=True),
        arg("--uri", dest="libvirt_uri", required=True, help="libvirt URI, e.g. qemu+tls://hv1/system"),
        arg("--vcpus", required=True, type=int),
        arg("--memory-mib", required=True, type=int),
        arg("--disk-gib", required=True, type=int),
        arg("--cpu-ratio", dest="cpu_allocation_ratio", type=float, help="vCPU overcommit ratio"),
        arg("--ram-ratio", dest="ram_allocation_ratio", type=float, help="memory overcommit ratio"),
    )
    add_endpoint(
        host_subs,
        "set-state",
        "put a host in or out of maintenance (no new servers placed on it)",
        Endpoint("PATCH", "/v1/hosts/{host_name_arg}", body=pick("admin_state")),
        name,
        arg("admin_state", choices=["active", "maintenance"]),
    )
    add_endpoint(
        host_subs,
        "orphans",
        "libvirt domains on the host that dcloud does not know",
        Endpoint("GET", "/v1/hosts/{host_name_arg}/orphans", ORPHAN_COLUMNS),
        name,
    )
