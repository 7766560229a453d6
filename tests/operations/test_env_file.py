"""The shipped environment file works as systemd hands it to the units (EnvironmentFile=, systemd.exec(5)):
every value it sets is one dcloud accepts, and the WHOIS server listens where it says."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controlplane.config import Settings
from tests.e2e.stack import free_port
from tests.utils.envfile import read_env_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy/dcloud.env.example"


def test_the_reader_keeps_a_comment_after_a_value_as_systemd_does(tmp_path: Path) -> None:
    env = tmp_path / "x.env"
    env.write_text("# comment\n; also\nA=b  # c\nB=' q '\n")
    assert read_env_file(env) == {"A": "b  # c", "B": " q "}


def test_every_value_in_the_example_is_accepted_as_systemd_reads_it(tmp_path: Path) -> None:
    values = read_env_file(EXAMPLE)
    assert values, "the example sets nothing"
    assert all(key.startswith("DCLOUD_") for key in values)
    assert not [key for key, value in values.items() if "#" in value]  # a comment systemd would keep
    settings = Settings(_env_file=None, **{k.removeprefix("DCLOUD_").lower(): v for k, v in values.items()})
    assert settings.suspend_mode == values["DCLOUD_SUSPEND_MODE"]
    assert settings.whois_bind == values["DCLOUD_WHOIS_BIND"]


def test_every_key_in_the_example_is_a_setting() -> None:
    known = {name.upper() for name in Settings.model_fields}
    unknown = [key for key in read_env_file(EXAMPLE) if key.removeprefix("DCLOUD_") not in known]
    assert unknown == []


@pytest.mark.timeout(60)
def test_the_whois_server_listens_where_the_env_file_says(tmp_path: Path) -> None:
    port = free_port()
    env_file = tmp_path / "dcloud.env"
    text = EXAMPLE.read_text()
    text = text.replace("DCLOUD_WHOIS_PORT=43", f"DCLOUD_WHOIS_PORT={port}")
    text = text.replace("DCLOUD_WHOIS_BIND=::", "DCLOUD_WHOIS_BIND=127.0.0.1")
    text += f"\nDCLOUD_DATABASE_URL=sqlite:///{tmp_path / 'dcloud.db'}\n"
    env_file.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCLOUD_")}
    env.update(read_env_file(env_file), PYTHONPATH=str(ROOT))
    upgrade = [sys.executable, "-m", "controlplane.cli", "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, cwd=tmp_path, capture_output=True)
    # The unit's command line, with no flag: the address can only come from the environment.
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", "whois-server"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(b"198.51.100.7\r\n")
                    answer = sock.makefile("rb").read().decode()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert "% No match for 198.51.100.7" in answer, answer  # an empty registry answers, and says so
    finally:
        proc.terminate()
        proc.wait(timeout=10)
