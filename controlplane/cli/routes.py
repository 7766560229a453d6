"""Which API route each `dcloud` command calls: the table `tests/cli/test_cli_covers_the_api.py` checks.

Every leaf command that talks to the API names its routes in its parser defaults (`routes`): commands
built with `rest.add_endpoint` get theirs from the Endpoint, the older hand-written ones declare them
with `calls`. A route is `(METHOD, /path/{})`, each `{placeholder}` reduced to `{}` so the CLI's argument
names need not match the API's.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

Route = tuple[str, str]
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def route(method: str, path: str) -> Route:
    """The route as the table keeps it: upper-case method, placeholders unnamed, no query."""
    return method.upper(), _PLACEHOLDER.sub("{}", path.split("?")[0])


def calls(parser: argparse.ArgumentParser, *routes: tuple[str, str]) -> None:
    """Declares the API routes a hand-written command sends its requests to."""
    parser.set_defaults(routes=tuple(route(method, path) for method, path in routes))


def command_routes(parser: argparse.ArgumentParser) -> dict[str, tuple[Route, ...]]:
    """`"server list"` -> the routes it calls, for every leaf command that declares some."""
    return {" ".join(words): routes for words, routes in _leaves(parser, ())}


def _leaves(
    parser: argparse.ArgumentParser, words: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], tuple[Route, ...]]]:
    routes = parser.get_default("routes")
    if routes:
        yield words, routes
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _leaves(child, (*words, name))
