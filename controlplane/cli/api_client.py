"""The commands that act as a person through the API (two-person rules need the caller's own token).

The URL and token come from `--api-url` / DCLOUD_API_URL and DCLOUD_TOKEN, else from the CLI config
file (`config_path`: keys `api_url`, `token`), else http://127.0.0.1:8080; every answer prints as one
JSON document; an error is one line naming the field.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx

EXIT_REFUSED = 1
DEFAULT_URL = "http://127.0.0.1:8080"


class CliError(Exception):
    """A refusal or failure, already worded as the one line the user sees."""


def config_path() -> Path:
    """DCLOUD_CLI_CONFIG, else $XDG_CONFIG_HOME/dcloud/cli.toml, else ~/.config/dcloud/cli.toml."""
    if explicit := os.environ.get("DCLOUD_CLI_CONFIG"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dcloud" / "cli.toml"


def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"config file {path}: {exc}") from None


def connection(args: argparse.Namespace) -> tuple[str, str]:
    """(API URL, token): the flag, then the environment, then the config file."""
    config = read_config(config_path())
    url = getattr(args, "api_url", None) or os.environ.get("DCLOUD_API_URL") or config.get("api_url")
    token = getattr(args, "token", None) or os.environ.get("DCLOUD_TOKEN") or config.get("token")
    if not token:
        raise CliError(f"no API token: set DCLOUD_TOKEN or `token` in {config_path()}")
    return str(url or DEFAULT_URL), str(token)


def add_api_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-url",
        default=None,
        help=f"the control plane's API (default DCLOUD_API_URL, the config file's api_url or {DEFAULT_URL})",
    )


def client_for(args: argparse.Namespace) -> httpx.Client:
    try:
        url, token = connection(args)
    except CliError as exc:
        raise SystemExit(f"dcloud {args.command}: error: {exc}") from None
    # DCLOUD_API_URL may list several replicas (the agents' env file): a person's command uses the first.
    url = url.split(",")[0].strip()
    args.api_url = url  # named in a "cannot reach" error
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


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
        print(f"dcloud {args.command}: error: cannot reach {http.base_url}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        if own:
            http.close()
    if response.status_code >= 400:
        detail = detail_of(response)
        print(f"dcloud {args.command}: error ({response.status_code}): {detail}", file=sys.stderr)
        return EXIT_REFUSED
    sys.stdout.write(json.dumps(response.json(), ensure_ascii=False, indent=2) + "\n")
    return 0


def detail_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    field = f"{body['field']}: " if isinstance(body, dict) and body.get("field") else ""
    return f"{field}{body.get('detail') if isinstance(body, dict) else body}"
