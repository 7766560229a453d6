"""The shipped Prometheus files are valid for promtool, and every alert is unit-tested firing and not."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy/prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/setup-host.sh installs Debian's prometheus package"
    return subprocess.run([promtool, *args], capture_output=True, text=True, cwd=ROOT)


def test_the_shipped_scrape_config_passes_promtool_check_config() -> None:
    result = _promtool("check", "config", str(PROMETHEUS / "scrape.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_the_alert_unit_tests_pass() -> None:
    result = _promtool("test", "rules", str(PROMETHEUS / "dcloud-alerts.test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_both_firing_and_not_firing() -> None:
    alerts = set(re.findall(r"^\s*- alert: (\w+)", (PROMETHEUS / "dcloud-alerts.yml").read_text(), re.M))
    cases = yaml.safe_load((PROMETHEUS / "dcloud-alerts.test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert alerts and alerts == firing == quiet
