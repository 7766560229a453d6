"""How `dcloud` prints for scripts: `--value FIELD` gives one field's raw value (like `openstack -f value
-c id`), and a reader that stops early (`dcloud … | head -1`) ends the command quietly, no traceback."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from controlplane.cli import build_parser
from tests.utils.api import Api, make_api


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    harness = make_api(sqlite_engine)
    harness.add_host("dctest-hv1")
    return harness


def _cli(api: Api, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    api.client.headers["Authorization"] = f"Bearer {api.tokens['admin']}"
    code = int(args.func(args, client=api.client))
    out, err = capsys.readouterr()
    return code, out, err


def test_value_prints_one_field_of_each_listed_item(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = api.add_server("dctest-a"), api.add_server("dctest-b")
    code, out, _ = _cli(api, capsys, "server", "list", "--value", "id")
    assert (code, sorted(out.splitlines())) == (0, sorted([first["id"], second["id"]]))


def test_value_of_one_object_is_its_raw_value(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    server = api.add_server("dctest-a")["id"]
    assert _cli(api, capsys, "server", "show", server, "--value", "name") == (0, "dctest-a\n", "")


def test_value_of_an_empty_list_prints_nothing(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(api, capsys, "server", "list", "--value", "id") == (0, "", "")


def test_value_naming_no_field_is_one_line_naming_it(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    server = api.add_server("dctest-a")["id"]
    code, out, err = _cli(api, capsys, "server", "show", server, "--value", "colour")
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1 and "'colour'" in err and "name" in err


def test_value_and_json_together_are_refused_by_the_parser() -> None:
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(["server", "list", "--json", "--value", "id"])
    assert refused.value.code == 2
