"""The `dcloud` command line: help everywhere, db upgrade, tokens, hosts."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controlplane.cli import build_parser, main
from controlplane.db import make_engine
from controlplane.main import create_app


def _all_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _all_parsers(sub, (*path, name))
    return found


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DCLOUD_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    return url


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _all_parsers(build_parser())
    assert {
        ("up",),
        ("serve",),
        ("agent",),
        ("token", "create"),
        ("db", "upgrade"),
        ("host", "register"),
        ("host", "list"),
    } <= set(commands)
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--help"])
        assert exit_.value.code == 0
        assert "usage: dcloud" in capsys.readouterr().out


def test_db_upgrade_reports_the_revision(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert "database at revision" in capsys.readouterr().out


def test_created_token_authenticates_once_printed(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["token", "create", "--role", "auditor", "--name", "auditor-cli"]) == 0
    token = capsys.readouterr().out.strip()
    engine = make_engine(db)
    try:
        client = TestClient(create_app(engine=engine))
        assert client.get("/v1/audit", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert client.get("/v1/tokens", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    finally:
        engine.dispose()


def test_agent_token_without_host_fails_naming_host(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--role", "agent"]) == 1
    assert "host: an agent token must be bound to a host" in capsys.readouterr().err


def test_host_register_and_list(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "host",
        "register",
        "--name",
        "hv7",
        "--uri",
        "qemu:///system",
        "--vcpus",
        "8",
        "--memory-mib",
        "16384",
        "--disk-gib",
        "200",
    ]
    assert main(args) == 0
    assert main(["host", "list"]) == 0
    out = capsys.readouterr().out
    assert "registered host hv7" in out
    row = next(line for line in out.splitlines() if line.startswith("hv7"))
    assert "unknown" in row and "0/8" in row and "qemu:///system" in row
    assert main(args) == 1  # the name is taken
