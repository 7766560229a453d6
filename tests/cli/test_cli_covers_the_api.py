"""Every route of the real API has a `dcloud` command, and every route a command names exists.

The app's routes come from its OpenAPI document (method and path template); the commands' from the
table each leaf parser keeps (`controlplane/cli/routes.py`). Routes only the host agent calls are listed
below with the reason, so adding an agent route is a decision, not a silent gap.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from controlplane.cli import build_parser
from controlplane.cli.routes import Route, command_routes, route
from controlplane.config import Settings
from controlplane.main import create_app

# The agent's own protocol (an agent token bound to one host), not something a person runs.
AGENT_ONLY: dict[Route, str] = {
    route("POST", "/v1/hosts/{}/heartbeat"): "the agent's heartbeat",
    route("GET", "/v1/hosts/{}/desired-state"): "the agent's poll",
    route("GET", "/v1/hosts/{}/desired-state/watch"): "the agent's long poll",
    route("GET", "/v1/hosts/{}/servers/{}/desired-state"): "the agent's per-server read",
    route("POST", "/v1/hosts/{}/observed-state"): "the agent's report",
    route("GET", "/v1/hosts/{}/images/{}/file"): "the agent's image download",
    route("GET", "/v1/hosts/{}/console-sessions/watch"): "the agent's console long poll",
}


@pytest.fixture(scope="module")
def api_routes() -> set[Route]:
    from sqlmodel import create_engine

    engine: Engine = create_engine("sqlite://")
    try:
        app = create_app(settings=Settings(), engine=engine)
        paths = app.openapi()["paths"]
    finally:
        engine.dispose()
    return {route(method, path) for path, operations in paths.items() for method in operations}


def _cli_routes() -> dict[Route, list[str]]:
    by_route: dict[Route, list[str]] = {}
    for command, routes in command_routes(build_parser()).items():
        for called in routes:
            by_route.setdefault(called, []).append(command)
    return by_route


def test_every_api_route_has_a_cli_command(api_routes: set[Route]) -> None:
    uncovered = sorted(api_routes - set(_cli_routes()) - set(AGENT_ONLY))
    assert uncovered == [], f"API routes no `dcloud` command calls: {uncovered}"


def test_no_cli_command_names_a_route_the_api_does_not_have(api_routes: set[Route]) -> None:
    unknown = {called: commands for called, commands in _cli_routes().items() if called not in api_routes}
    assert unknown == {}, f"commands naming routes the API does not have: {unknown}"


def test_the_agent_only_list_names_real_routes_no_command_calls(api_routes: set[Route]) -> None:
    assert set(AGENT_ONLY) <= api_routes
    assert set(AGENT_ONLY).isdisjoint(_cli_routes())


def test_the_table_reads_the_commands_parsers() -> None:
    table = command_routes(build_parser())
    assert table["server list"] == (("GET", "/v1/servers"),)
    assert table["host show"] == (("GET", "/v1/hosts/{}"),)
