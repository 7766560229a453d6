"""`dcloud pool ...` and `dcloud whois-server` through the real `dcloud` entry point."""

from __future__ import annotations

import pytest

from controlplane.cli import main
from controlplane.db import make_engine
from controlplane.migrations import upgrade


@pytest.fixture
def db_url(tmp_path: object) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    engine = make_engine(url)
    upgrade(engine)  # the real migrations, 0002_network included
    engine.dispose()
    return url


def test_pool_create_then_list_shows_utilisation(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--database-url", db_url, "pool", "create", "--name", "pub", "--cidr", "192.0.2.0/24"]
    assert main([*args, "--network", "dctest-net", "--gateway", "192.0.2.1", "--reserve", "192.0.2.10"]) == 0
    assert main(["--database-url", db_url, "pool", "list"]) == 0
    out = capsys.readouterr().out
    assert "pool 1 pub 192.0.2.0/24" in out
    assert out.splitlines()[-1].split() == ["1", "pub", "192.0.2.0/24", "252", "0", "0", "252"]


def test_overlapping_pool_fails_with_a_message_naming_the_field(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--database-url", db_url, "pool", "create", "--network", "n"]
    assert main([*base, "--name", "a", "--cidr", "192.0.2.0/24"]) == 0
    assert main([*base, "--name", "b", "--cidr", "192.0.2.128/25"]) != 0
    assert "cidr: 192.0.2.128/25 overlaps the existing pool 192.0.2.0/24" in capsys.readouterr().err


def test_whois_server_help_names_port_and_bind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["whois-server", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--bind" in out
