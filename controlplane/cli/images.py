"""`dcloud image …`: images servers boot from, through the API (operator or admin token).

dcloud image import NAME SOURCE [--sha256 HEX] [--min-disk-gib N] [--no-wait]
    SOURCE is an http(s) URL or a file path under the control plane's DCLOUD_IMAGE_IMPORT_DIRS; waits
    until the image is active or failed (with the reason) unless --no-wait.
dcloud image list [--visible] | show ID
dcloud image hide ID [--unhide]
dcloud image delete ID          (refused while a server is built on it: hide it instead)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx

from controlplane.cli.api_client import EXIT_REFUSED, add_api_flags, call, client_for
from controlplane.cli.routes import calls

_WAIT_STEP_S = 0.5


def add_parsers(subparsers: Any) -> None:
    top = subparsers.add_parser(
        "image",
        help="images: import, list, hide, delete",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subs = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = subs.add_parser("import", help="import an image from an http(s) URL or an import-dir file")
    imp.add_argument("name")
    imp.add_argument("source", help="http(s) URL, or an absolute path the control plane can read")
    imp.add_argument("--sha256", help="the expected checksum; the import fails on any other")
    imp.add_argument("--min-disk-gib", type=int, help="raise the minimum disk above the image's own size")
    imp.add_argument("--no-wait", action="store_true", help="return while the image is still importing")
    imp.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait (default %(default)s)")
    listing = subs.add_parser("list", help="images (hidden ones too unless --visible)")
    listing.add_argument("--visible", action="store_true", help="only images new servers may use")
    hide = subs.add_parser("hide", help="hide an image from new servers (its servers keep it)")
    hide.add_argument("image")
    hide.add_argument("--unhide", action="store_true", help="show it to new servers again")
    delete = subs.add_parser("delete", help="delete an image no server is built on")
    delete.add_argument("image")
    show = subs.add_parser("show", help="one image with its state and checksum")
    show.add_argument("image")
    for parser in (imp, listing, hide, delete, show):
        add_api_flags(parser)
        parser.set_defaults(func=cmd_image)
    calls(imp, ("POST", "/v1/images"), ("GET", "/v1/images/{image}"))
    calls(listing, ("GET", "/v1/images"))
    calls(hide, ("POST", "/v1/images/{image}/hide"))
    calls(delete, ("DELETE", "/v1/images/{image}"))
    calls(show, ("GET", "/v1/images/{image}"))


def cmd_image(args: argparse.Namespace, client: httpx.Client | None = None) -> int:
    match args.action:
        case "import":
            if client is not None:
                return _import(args, client)
            with client_for(args) as own:
                return _import(args, own)
        case "list":
            visible = "false" if args.visible else "true"
            return call(args, "GET", f"/v1/images?include_hidden={visible}", client=client)
        case "hide":
            body = {"hidden": not args.unhide}
            return call(args, "POST", f"/v1/images/{args.image}/hide", body, client=client)
        case "show":
            return call(args, "GET", f"/v1/images/{args.image}", client=client)
        case "delete":
            return call(args, "DELETE", f"/v1/images/{args.image}", client=client)
    raise AssertionError(args.action)


def _import(args: argparse.Namespace, http: httpx.Client) -> int:
    key = "source_url" if args.source.lower().startswith(("http://", "https://")) else "source_path"
    body: dict[str, Any] = {"name": args.name, key: args.source}
    if args.sha256:
        body["sha256"] = args.sha256.lower()
    if args.min_disk_gib:
        body["min_disk_gib"] = args.min_disk_gib
    if args.no_wait:
        return call(args, "POST", "/v1/images", body, client=http)
    response = http.post("/v1/images", json=body)
    if response.status_code >= 400:
        is_json = response.headers.get("content-type", "").startswith("application/json")
        detail = response.json() if is_json else {}
        where = f"{detail['field']}: " if detail.get("field") else ""
        said = detail.get("detail", response.text)
        print(f"dcloud image import: error ({response.status_code}): {where}{said}", file=sys.stderr)
        return EXIT_REFUSED
    image = response.json()
    deadline = time.monotonic() + args.timeout
    while image["state"] == "importing" and time.monotonic() < deadline:
        time.sleep(_WAIT_STEP_S)
        image = http.get(f"/v1/images/{image['id']}").json()
    sys.stdout.write(json.dumps(image, ensure_ascii=False, indent=2) + "\n")
    if image["state"] == "failed":
        print(f"dcloud image import: failed: {image['failure_reason']}", file=sys.stderr)
        return EXIT_REFUSED
    return 0
