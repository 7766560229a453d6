"""deploy/ must stay true to the code: valid alert rules, valid dashboard, no metric nobody exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from controlplane.db import make_engine
from controlplane.main import create_app
from controlplane.migrations import upgrade

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy/prometheus/dcloud-alerts.yml"
DASHBOARD = ROOT / "deploy/grafana/dcloud.json"
METRIC = re.compile(r"\b((?:dcloud|libvirt)_[a-z_]+)")
SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def _exposed_names(tmp_path: Path) -> set[str]:
    """The control plane's names from a real scrape; the agent's as its code declares them."""
    engine = make_engine(f"sqlite:///{tmp_path}/metrics.db")
    upgrade(engine)
    text = TestClient(create_app(engine=engine)).get("/metrics").text
    engine.dispose()
    names = set(re.findall(r"^# TYPE (\S+)", text, flags=re.MULTILINE))
    for path in (ROOT / "agents").rglob("*.py"):
        names.update(re.findall(r"[\"']((?:dcloud|libvirt)_[a-z_]+)[\"']", path.read_text()))
    return names


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_exposed(name: str, exposed: set[str]) -> bool:
    return name in exposed or _base(name) in exposed or _base(name) + "_total" in exposed


def test_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/setup-host.sh installs Debian's prometheus package"
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_in_alerts_and_dashboard_is_exposed_by_the_code(tmp_path: Path) -> None:
    exposed = _exposed_names(tmp_path)
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set(METRIC.findall(RULES.read_text())) | {m for e in exprs for m in METRIC.findall(e)}

    missing = sorted(name for name in used if not _is_exposed(name, exposed))

    assert used, "no metric referenced at all"
    assert missing == []


def test_scheduler_and_maintenance_alerts_pass_their_promtool_unit_tests() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: scripts/setup-host.sh installs Debian's prometheus package"
    tests = ROOT / "deploy/prometheus/dcloud-alerts.test.yml"
    result = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
