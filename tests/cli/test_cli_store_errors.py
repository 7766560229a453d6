"""Every store mistake an operator makes is one line on stderr naming it, never a traceback: no store where
the command looked (a wrong directory), a store not upgraded to this build, a database that is down; and
a usage mistake too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from controlplane.db import make_engine
from controlplane.migrations import upgrade
from tests.e2e.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


def _dcloud(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCLOUD_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "controlplane.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_command_run_from_the_wrong_directory_names_the_store_it_looked_for(tmp_path: Path) -> None:
    line = _one_line(_dcloud(tmp_path, "host", "list"))
    assert f"no store at {tmp_path / 'var/dcloud.db'}" in line
    assert "dcloud db upgrade" in line
    assert not (tmp_path / "var").exists()  # and it left no empty store behind


def test_a_store_not_upgraded_to_this_build_says_to_upgrade(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0010_termination_settlement")
    engine.dispose()
    line = _one_line(_dcloud(tmp_path, "--database-url", f"sqlite:///{tmp_path / 'old.db'}", "host", "list"))
    assert "not at this build's schema: run `dcloud db upgrade`" in line


def test_a_database_that_is_down_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://dcloud:s3cret@127.0.0.1:{free_port()}/dcloud"
    line = _one_line(_dcloud(tmp_path, "--database-url", url, "token", "create", "--role", "admin"))
    assert "cannot reach the store at postgresql+psycopg://dcloud:***@127.0.0.1" in line
    assert "s3cret" not in line


def test_an_agent_without_a_token_says_which_setting_is_missing(tmp_path: Path) -> None:
    line = _one_line(_dcloud(tmp_path, "agent"))
    assert "DCLOUD_TOKEN" in line


def test_a_usage_mistake_is_one_line_naming_it_and_pointing_at_help(tmp_path: Path) -> None:
    result = _dcloud(tmp_path, "server", "create", "--name", "web")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("dcloud server create: error: the following arguments are required: --vcpus")
    assert line.endswith("(see 'dcloud server create --help')")


def test_an_unknown_command_is_one_line(tmp_path: Path) -> None:
    result = _dcloud(tmp_path, "sever", "list")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "invalid choice: 'sever'" in line
