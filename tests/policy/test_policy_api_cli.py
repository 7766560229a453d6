"""GET /v1/policies[/{version}] for every authenticated role, and `dcloud policy show|check`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.cli import main
from tests.utils.api import make_api
from tests.utils.policies import SLOW, SLOW_VERSION, write_policy_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("role", ["auditor", "billing", "operator"])
def test_every_role_lists_the_versions_with_the_current_one_marked(
    engine: Engine, deployed: Path, role: str
) -> None:
    api = make_api(engine)  # clock in 2027: the 2026-07 version is current
    body = api.call("GET", "/v1/policies", role=role).json()
    assert [(p["version"], p["current"], p["source"]) for p in body] == [
        ("2025-01", False, "built-in"),
        (SLOW_VERSION, True, "deployment"),
    ]
    assert body[1]["restrict_after_overdue_days"] == 45 and body[1]["late_fee_rate_monthly"] == "3/250"
    assert body[0]["restrict_after_overdue_days"] == 30


def test_one_version_by_name_and_an_unknown_one_is_404(engine: Engine, deployed: Path) -> None:
    api = make_api(engine)
    one = api.call("GET", f"/v1/policies/{SLOW_VERSION}", role="auditor")
    assert one.status_code == 200 and one.json()["effective_from"] == "2026-07-01"
    missing = api.call("GET", "/v1/policies/1999-01", role="auditor")
    assert missing.status_code == 404 and missing.json()["field"] == "version"


def test_policies_need_a_token(engine: Engine) -> None:
    assert make_api(engine).call("GET", "/v1/policies", role=None).status_code == 401


def test_cli_shows_the_deployments_versions(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DCLOUD_POLICY_FILE", str(policy_file))
    assert main(["policy", "show", "--as-of", "2026-06-30"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["current"] == "2025-01"
    assert [v["version"] for v in shown["versions"]] == ["2025-01", SLOW_VERSION]
    assert main(["policy", "show", "--version", SLOW_VERSION]) == 0
    one = json.loads(capsys.readouterr().out)
    assert (one["version"], one["restrict_after_overdue_days"]) == (SLOW_VERSION, 45)
    assert one["source"] == "deployment"
    assert main(["policy", "show", "--version", "1999-01"]) == 1
    assert "1999-01" in capsys.readouterr().err


def test_cli_check_names_the_bad_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_policy_file(tmp_path / "bad.json", [{**SLOW, "addresses_per_server": -2}])
    assert main(["policy", "check", str(bad)]) == 1
    assert "addresses_per_server" in capsys.readouterr().err
    assert main(["policy", "check", str(ROOT / "deploy/policy.example.json")]) == 0
    assert json.loads(capsys.readouterr().out)["versions"][0]["restrict_after_overdue_days"] == 45


def test_dcloud_refuses_to_start_with_a_bad_policy_file(tmp_path: Path) -> None:
    bad = write_policy_file(tmp_path / "bad.json", [{**SLOW, "restrict_after_overdue_days": "soon"}])
    env = {**os.environ, "DCLOUD_POLICY_FILE": str(bad)}
    done = subprocess.run(
        [sys.executable, "-m", "controlplane.cli", "policy", "show"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert SLOW_VERSION in done.stderr and "restrict_after_overdue_days" in done.stderr
