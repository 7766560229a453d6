"""`deploy/install.sh` into a scratch root (DESTDIR): a non-editable build in /opt/dcloud that runs on its
own, /etc/dcloud files in the format and modes the units read, the units installed, the `dcloud` user
created, and the API started from the installed files as that user, the way its unit starts it."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import free_port
from tests.utils.envfile import read_env_file

ROOT = Path(__file__).resolve().parents[2]
WORK_ROOT = Path("/var/lib/dcloud-test")


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory the `dcloud` user can reach (pytest's own tmp tree is root-only), removed afterwards."""
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="dctest-install-", dir=WORK_ROOT))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_install_sh_builds_configures_and_installs_the_units(scratch: Path) -> None:
    tmp_path = scratch
    dest = tmp_path / "root"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DCLOUD_", "PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run(
        ["bash", str(ROOT / "deploy/install.sh"), "--no-systemctl", "--user"],
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

    assert pwd.getpwnam("dcloud").pw_shell in ("/usr/sbin/nologin", "/bin/false")  # a system user
    assert grp.getgrgid((etc / "dcloud.env").stat().st_gid).gr_name == "dcloud"
    _the_api_starts_as_its_unit_says(dest, tmp_path)


def _unit_commands(unit: Path, dest: Path) -> list[list[str]]:
    """ExecStartPre= and ExecStart= of a unit, pointed at the build under `dest`."""
    lines = re.findall(r"^ExecStart(?:Pre)?=(.+)$", unit.read_text(), re.M)
    return [
        [arg.replace("/opt/dcloud", str(dest / "opt/dcloud")) for arg in shlex.split(line)] for line in lines
    ]


def _the_api_starts_as_its_unit_says(dest: Path, tmp_path: Path) -> None:
    """As the `dcloud` user with the environment systemd would pass from the installed env file (only the
    store, address and state directory pointed at this test), `db upgrade` then `serve` reach /readyz."""
    state = tmp_path / "state"  # stands in for StateDirectory=dcloud
    state.mkdir()
    os.chown(state, pwd.getpwnam("dcloud").pw_uid, grp.getgrnam("dcloud").gr_gid)
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(read_env_file(dest / "etc/dcloud/dcloud.env"))
    env.update(
        DCLOUD_DATABASE_URL=f"sqlite:///{state / 'dcloud.db'}",
        DCLOUD_API_HOST="127.0.0.1",
        DCLOUD_API_PORT=str(port),
        DCLOUD_STATE_DIR=str(state),
    )
    as_dcloud = ["setpriv", "--reuid=dcloud", "--regid=dcloud", "--clear-groups", "--"]
    upgrade, serve = _unit_commands(dest / "etc/systemd/system/dcloud-api.service", dest)
    done = subprocess.run(
        as_dcloud + upgrade, env=env, cwd=state, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    proc = subprocess.Popen(
        as_dcloud + serve, env=env, cwd=state, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout and proc.stdout.read()
                time.sleep(0.2)
        assert ready.status_code == 200, ready.text
        assert (state / "dcloud.db").stat().st_uid == pwd.getpwnam("dcloud").pw_uid
    finally:
        proc.terminate()
        proc.wait(timeout=20)
