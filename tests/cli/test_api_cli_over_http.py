"""`dcloud <resource> …` over real HTTP (uvicorn on loopback): the URL and token come from the environment
or the config file (the environment wins), and a missing token, a wrong token or an API that does not
answer is one line naming the problem with exit code 1, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine

from controlplane.cli import main
from controlplane.main import create_app
from tests.utils.api import Api, make_api

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Api, str]]:
    api = make_api(sqlite_engine)
    api.add_host("dctest-hv1")
    app = create_app(settings=api.settings, engine=sqlite_engine, clock=api.clock)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    for name in ("DCLOUD_TOKEN", "DCLOUD_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DCLOUD_CLI_CONFIG", str(tmp_path / "cli.toml"))
    try:
        yield api, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_url_and_token_from_the_environment(
    served: tuple[Api, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api, url = served
    monkeypatch.setenv("DCLOUD_API_URL", url)
    monkeypatch.setenv("DCLOUD_TOKEN", api.tokens["auditor"])
    assert main(["host", "show", "dctest-hv1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "dctest-hv1"


def test_url_and_token_from_the_config_file(
    served: tuple[Api, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api, url = served
    (tmp_path / "cli.toml").write_text(f'api_url = "{url}"\ntoken = "{api.tokens["auditor"]}"\n')
    assert main(["server", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_the_environment_wins_over_the_config_file(
    served: tuple[Api, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api, url = served
    (tmp_path / "cli.toml").write_text(f'api_url = "{url}"\ntoken = "not-a-token"\n')
    monkeypatch.setenv("DCLOUD_TOKEN", api.tokens["auditor"])
    assert main(["host", "show", "dctest-hv1"]) == 0
    assert "dctest-hv1" in capsys.readouterr().out


def test_no_token_is_one_line(served: tuple[Api, str], capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, ["server", "list"])
    assert "no API token" in err and "DCLOUD_TOKEN" in err


def test_a_wrong_token_is_one_line_with_the_401(
    served: tuple[Api, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DCLOUD_API_URL", served[1])
    monkeypatch.setenv("DCLOUD_TOKEN", "not-a-token")
    assert "(401)" in _one_line_error(capsys, ["customer", "list"])


def test_an_api_that_does_not_answer_names_its_url(
    served: tuple[Api, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("DCLOUD_API_URL", dead)
    monkeypatch.setenv("DCLOUD_TOKEN", served[0].tokens["auditor"])
    err = _one_line_error(capsys, ["contract", "list"])
    assert dead in err and "connection refused" in err


def test_a_broken_config_file_is_one_line_naming_it(
    served: tuple[Api, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cli.toml").write_text("token = \n")
    assert "cli.toml" in _one_line_error(capsys, ["audit", "list"])


def test_the_older_api_commands_read_the_config_file_too(
    served: tuple[Api, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api, url = served
    (tmp_path / "cli.toml").write_text(f'api_url = "{url}"\ntoken = "{api.tokens["operator"]}"\n')
    assert main(["maintenance", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def _run_into_a_closed_pipe(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`dcloud ARGV | head -0`: the reader is gone before the command writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "controlplane.cli", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


def test_a_reader_that_stops_early_ends_server_list_quietly(served: tuple[Api, str]) -> None:
    api, url = served
    api.add_server("dctest-a")
    env = {"DCLOUD_API_URL": url, "DCLOUD_TOKEN": api.tokens["auditor"]}
    done = _run_into_a_closed_pipe(["server", "list"], env)
    assert (done.returncode, done.stderr) == (141, "")  # SIGPIPE's status, and no traceback


def test_a_reader_that_stops_early_ends_a_store_less_command_quietly() -> None:
    done = _run_into_a_closed_pipe(["policy", "show"], {})
    assert (done.returncode, done.stderr) == (141, "")


def _as(served: tuple[Api, str], monkeypatch: pytest.MonkeyPatch, role: str) -> Api:
    api, url = served
    monkeypatch.setenv("DCLOUD_API_URL", url)
    monkeypatch.setenv("DCLOUD_TOKEN", api.tokens[role])
    return api


def test_host_create_then_host_list_through_the_api(
    served: tuple[Api, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _as(served, monkeypatch, "admin")
    create = ["host", "create", "--name", "dctest-hv2", "--uri", "test:///default", "--vcpus", "8"]
    assert main([*create, "--memory-mib", "16384", "--disk-gib", "100", "--ram-ratio", "1.5"]) == 0
    capsys.readouterr()
    assert main(["host", "list", "--api", "--value", "name"]) == 0
    assert capsys.readouterr().out.splitlines() == ["dctest-hv1", "dctest-hv2"]


def test_a_spam_complaint_recorded_and_shown_through_the_cli(
    served: tuple[Api, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _as(served, monkeypatch, "operator")
    record = ["spam", "create", "--complainant", "abuse@example.net", "--evidence", "headers attached"]
    assert (
        main([*record, "--received-at", "2027-03-02T08:00+00:00", "--address", "192.0.2.10", "--value", "id"])
        == 0
    )
    complaint = capsys.readouterr().out.strip()
    assert main(["spam", "show", complaint, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["complainant"], shown["answered_at"]) == ("abuse@example.net", None)
    assert main(["spam", "list", "--open", "--value", "id"]) == 0
    assert capsys.readouterr().out.split() == [complaint]


def test_the_address_export_prints_the_csv_the_api_serves(
    served: tuple[Api, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = _as(served, monkeypatch, "admin")
    served_csv = api.call("GET", "/v1/addresses/export.csv").text
    assert main(["address", "export"]) == 0
    assert capsys.readouterr().out == served_csv.rstrip("\n") + "\n"
    assert served_csv.count(",") >= 1  # the header row at least: not an empty answer compared to itself


def test_a_refusal_from_a_new_command_is_one_line(
    served: tuple[Api, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _as(served, monkeypatch, "operator")
    assert "(404)" in _one_line_error(capsys, ["outage", "update", "999", "--company-fault"])
