"""The machinery every `dcloud <resource> <action>` shares: where the API is, one request, one answer.

Where: `--api-url`/`--token` (global flags) win, then DCLOUD_API_URL / DCLOUD_TOKEN, then the config
file (DCLOUD_CLI_CONFIG, else $XDG_CONFIG_HOME/dcloud/cli.toml, else ~/.config/dcloud/cli.toml) with
keys `api_url` and `token`, then http://127.0.0.1:8080. Every failure is a CliError whose message is
one line naming the problem (the API's field and message, the URL that did not answer, the missing
token); `endpoint_command` prints it and exits 1, so no command ever shows a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from controlplane.cli.api_client import EXIT_REFUSED, CliError, connection
from controlplane.cli.render import FieldMissing, field_values, render
from controlplane.cli.routes import route

Builder = Callable[[argparse.Namespace], dict[str, Any] | None]


@dataclass(frozen=True)
class Endpoint:
    """One API call: `path` is formatted with the parsed arguments (each value URL-quoted)."""

    method: str
    path: str
    columns: Sequence[str] = ()
    body: Builder | None = None
    query: Builder | None = None
    text: bool = False  # the answer is a document (CSV), printed as the API sent it


def request(
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    client: httpx.Client | None = None,
    text: bool = False,
) -> Any:
    """Sends one request and returns the decoded JSON body (None for an empty answer), or its text."""
    if client is not None:
        return _answer(_send(client, method, path, body, params, str(client.base_url)), text)
    url, token = connection(args)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        return _answer(_send(http, method, path, body, params, url), text)


def _send(
    http: httpx.Client,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    params: dict[str, Any] | None,
    url: str,
) -> httpx.Response:
    try:
        return http.request(method, path, json=body, params=params)
    except httpx.ConnectError:
        raise CliError(f"cannot reach the API at {url}: connection refused") from None
    except httpx.TimeoutException:
        raise CliError(f"the API at {url} did not answer in time") from None
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach the API at {url}: {exc}") from None


def _answer(response: httpx.Response, text: bool = False) -> Any:
    if response.status_code >= 400:
        raise CliError(f"({response.status_code}) {problem(response)}")
    if text:
        return response.text
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise CliError(f"({response.status_code}) the API answered with something not JSON") from None


def problem(response: httpx.Response) -> str:
    """The API's field and message, on one line."""
    try:
        body = response.json()
    except ValueError:
        return (
            response.text.strip().splitlines()[0][:200] if response.text.strip() else response.reason_phrase
        )
    if not isinstance(body, dict):
        return str(body)
    detail, where = str(body.get("detail", body)), body.get("field")
    text = detail if not where or detail.startswith(f"{where}:") else f"{where}: {detail}"
    return " ".join(text.split())


def endpoint_command(endpoint: Endpoint) -> Callable[..., int]:
    """The `func` of a leaf parser: call the endpoint, print table or JSON, or the one-line error."""

    def run(args: argparse.Namespace, client: httpx.Client | None = None) -> int:
        try:
            path = endpoint.path.format(**{k: quote(str(v), safe="") for k, v in vars(args).items()})
            body = endpoint.body(args) if endpoint.body else None
            params = _without_none(endpoint.query(args)) if endpoint.query else None
            answer = request(
                args, endpoint.method, path, body=body, params=params, client=client, text=endpoint.text
            )
            shown = answer.rstrip("\n") if endpoint.text else _shown(answer, endpoint, args)
        except (CliError, FieldMissing) as exc:
            print(f"dcloud {command_name(args)}: error: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        if shown:  # `--value` of an empty list prints no lines, not one empty line
            print(shown)
        return 0

    return run


def _shown(answer: Any, endpoint: Endpoint, args: argparse.Namespace) -> str:
    if getattr(args, "value", None):
        return field_values(answer, args.value)
    return render(answer, columns=endpoint.columns, as_json=args.json)


def command_name(args: argparse.Namespace) -> str:
    return " ".join(part for part in (args.command, getattr(args, "action", None)) if part)


def _without_none(values: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (values or {}).items() if value is not None}


def add_endpoint(
    subs: Any, name: str, help_: str, endpoint: Endpoint, *arguments: tuple[Sequence[str], dict[str, Any]]
) -> argparse.ArgumentParser:
    """A leaf `dcloud <resource> <name>` with its arguments, --json and the endpoint as its func."""
    parser: argparse.ArgumentParser = subs.add_parser(name, help=help_, description=help_)
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the API's JSON body instead of a table")
    output.add_argument(
        "--value",
        metavar="FIELD",
        help="print only this field's value (one line per item of a list), e.g. --value id",
    )
    parser.set_defaults(
        func=endpoint_command(endpoint), action=name, routes=(route(endpoint.method, endpoint.path),)
    )
    return parser


def add_api_variant(parser: argparse.ArgumentParser, endpoint: Endpoint) -> None:
    """`--api` on a store-direct command: with it, the command asks the API (table, --json, --value)."""
    store_direct = parser.get_default("func")
    parser.add_argument("--api", action="store_true", help="ask the API (a token) instead of the store")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="with --api: print the API's JSON body")
    output.add_argument("--value", metavar="FIELD", help="with --api: print only this field's value")
    through_api = endpoint_command(endpoint)

    def run(args: argparse.Namespace, client: httpx.Client | None = None) -> int:
        if args.api or client is not None:
            return through_api(args, client)
        return int(store_direct(args))

    parser.set_defaults(func=run, routes=(route(endpoint.method, endpoint.path),))


def arg(*flags: str, **options: Any) -> tuple[Sequence[str], dict[str, Any]]:
    """One argparse argument, written next to the others in a command's declaration."""
    return flags, options


def pick(*names: str) -> Builder:
    """A body (or query) of the named arguments, `--foo-bar` sent as `foo_bar`; unset ones left out."""

    def build(args: argparse.Namespace) -> dict[str, Any]:
        return {name: getattr(args, name) for name in names if getattr(args, name) is not None}

    return build


def with_dates(build: Builder) -> Builder:
    """A body builder whose dates are sent as YYYY-MM-DD."""

    def dated(args: argparse.Namespace) -> dict[str, Any]:
        body = build(args) or {}
        return {key: v.isoformat() if hasattr(v, "isoformat") else v for key, v in body.items()}

    return dated


def resource(subparsers: Any, name: str, help_: str) -> Any:
    """`dcloud <name>` with its ACTION subparsers."""
    top = subparsers.add_parser(name, help=help_, description=help_)
    return top.add_subparsers(dest="action", required=True, metavar="ACTION")
