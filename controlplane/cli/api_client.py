"""The commands that act as a person through the API (two-person rules need the caller's own token).

The URL and token come from `--api-url` / DCLOUD_API_URL (default http://127.0.0.1:8080) and
DCLOUD_TOKEN; every answer prints as one JSON document; an error is one line naming the field.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

EXIT_REFUSED = 1
DEFAULT_URL = "http://127.0.0.1:8080"


def add_api_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-url",
        default=os.environ.get("DCLOUD_API_URL", DEFAULT_URL),
        help="the control plane's API (default DCLOUD_API_URL or %(default)s)",
    )


def client_for(args: argparse.Namespace) -> httpx.Client:
    token = os.environ.get("DCLOUD_TOKEN", "")
    if not token:
        raise SystemExit(f"dcloud {args.command}: error: DCLOUD_TOKEN is not set (a bearer token of yours)")
    # DCLOUD_API_URL may list several replicas (the agents' env file): a person's command uses the first.
    base_url = args.api_url.split(",")[0].strip()
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def call(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    client: httpx.Client | None = None,
) -> int:
    """Sends one request; prints the JSON answer (exit 0) or the refusal on one line (exit 1)."""
    own = client is None
    http = client or client_for(args)
    try:
        response = http.request(method, path, json=body)
    except httpx.HTTPError as exc:
        print(f"dcloud {args.command}: error: cannot reach {args.api_url}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        if own:
            http.close()
    if response.status_code >= 400:
        detail = _detail(response)
        print(f"dcloud {args.command}: error ({response.status_code}): {detail}", file=sys.stderr)
        return EXIT_REFUSED
    sys.stdout.write(json.dumps(response.json(), ensure_ascii=False, indent=2) + "\n")
    return 0


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    field = f"{body['field']}: " if isinstance(body, dict) and body.get("field") else ""
    return f"{field}{body.get('detail') if isinstance(body, dict) else body}"
