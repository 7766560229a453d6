"""Every shipped unit passes `systemd-analyze verify`, and each is sandboxed (`systemd-analyze security`
offline; systemd need not be PID 1 here). The scores are the README's."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy/systemd").glob("*.service"))
INSTALLED_DCLOUD = "/opt/dcloud/bin/dcloud"
# The README prints these; a unit that loses its sandboxing fails here first.
MAX_EXPOSURE = 2.5


def _analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing (Debian's systemd package)"
    env = {"SYSTEMD_LOG_LEVEL": "notice", "PATH": "/usr/bin:/bin", "SYSTEMD_COLORS": "0"}
    return subprocess.run([analyze, *args], capture_output=True, text=True, cwd=cwd, env=env)


def _staged(unit: Path, tmp_path: Path) -> Path:
    """The unit with the installed command pointed at this checkout's (verify checks it is executable)."""
    here = Path(sys.executable).with_name("dcloud")
    assert here.exists()
    text = unit.read_text()
    assert INSTALLED_DCLOUD in text  # what deploy/install.sh installs
    staged = tmp_path / unit.name
    staged.write_text(text.replace(INSTALLED_DCLOUD, str(here)))
    return staged


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_the_unit_passes_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    result = _analyze("verify", "--man=no", f"./{unit.name}", cwd=_staged(unit, tmp_path).parent)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_the_unit_is_sandboxed(unit: Path, tmp_path: Path) -> None:
    result = _analyze("security", "--offline=yes", f"./{unit.name}", cwd=_staged(unit, tmp_path).parent)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    print(f"{unit.name}: {match.group(1)}")
    assert float(match.group(1)) <= MAX_EXPOSURE


def test_the_units_read_the_files_install_sh_writes() -> None:
    script = (ROOT / "deploy/install.sh").read_text()
    for unit in UNITS:
        for path in re.findall(r"^EnvironmentFile=-?(\S+)", unit.read_text(), re.M):
            assert f'"$ETC/{Path(path).name}"' in script, (unit.name, path)


def test_whois_listens_where_the_env_file_says() -> None:
    unit = (ROOT / "deploy/systemd/dcloud-whois.service").read_text()
    assert "--bind" not in unit and "--port" not in unit
    env = (ROOT / "deploy/dcloud.env.example").read_text()
    assert "DCLOUD_WHOIS_BIND=" in env and "DCLOUD_WHOIS_PORT=43" in env
