"""`deploy/install.sh` into a scratch root (DESTDIR): a non-editable build in /opt/dcloud that runs on its
own, /etc/dcloud files in the format and modes the units read, the units installed."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_install_sh_builds_configures_and_installs_the_units(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DCLOUD_", "PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run(
        ["bash", str(ROOT / "deploy/install.sh"), "--no-systemctl"],
        env={**env, "DESTDIR": str(dest)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    dcloud = dest / "opt/dcloud/bin/dcloud"
    answer = subprocess.run(
        [
            str(dcloud),
            "terms",
            "late-fee",
            "--unpaid",
            "100000",
            "--due",
            "2027-01-31",
            "--paid-on",
            "2027-03-03",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert answer.returncode == 0 and "1,528" in answer.stdout, answer.stderr
    site = next((dest / "opt/dcloud/lib").glob("python3*/site-packages"))
    assert (site / "controlplane/migrations/versions").is_dir()  # the package itself, not a link
    assert not list(site.glob("__editable__*")) and not list(site.glob("*.egg-link"))
    assert str(ROOT) not in "".join(p.read_text() for p in site.glob("*.pth"))

    etc = dest / "etc/dcloud"
    assert stat.S_IMODE((etc / "agent.token").stat().st_mode) == 0o600
    assert stat.S_IMODE((etc / "dcloud.env").stat().st_mode) == 0o640
    assert "DCLOUD_DATABASE_URL=" in (etc / "dcloud.env").read_text()
    assert (etc / "policy.json").read_text().lstrip().startswith("[")
    units = {p.name for p in (dest / "etc/systemd/system").glob("*.service")}
    assert units == {p.name for p in (ROOT / "deploy/systemd").glob("*.service")}
