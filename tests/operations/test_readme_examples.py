"""README.md's shell examples run as written, against a `dcloud up` this test starts on loopback.

Every ```sh (or bash/shell) block carries a mark on the line before its fence: `<!-- test: run -->` or
`<!-- test: skip (why) -->`. The `run` blocks run in order in one bash (`set -euo pipefail`, so a
variable set in one block is there in the next), from the directory `dcloud up` runs in, exactly as a
reader would paste them; only the API's port differs (the README's 127.0.0.1:8080 is another process's
here). The stack is the real `dcloud up`: SQLite under ./var and libvirt's test:///default driver.
About 35 s on an idle 2-core machine, most of it the ~25 `dcloud` processes starting; the script's
timeout leaves room for a loaded one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHELLS = {"sh", "bash", "shell", "console"}
MARK = re.compile(r"<!-- test: (run|skip \((?P<why>[^)]+)\)) -->")
README_API = "127.0.0.1:8080"


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    mark: str | None  # "run", "skip", or None when unmarked
    text: str


def shell_blocks(markdown: str) -> list[Block]:
    lines = markdown.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = lines[i].strip()
        if not fence.startswith("```"):
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), len(lines))
        if fence[3:].strip() in SHELLS:
            found = MARK.fullmatch(lines[i - 1].strip()) if i > 0 else None
            mark = None if found is None else found.group(1).split(" ")[0]
            blocks.append(Block(i + 1, mark, "\n".join(lines[i + 1 : end])))
        i = end + 1
    return blocks


def test_every_shell_block_says_whether_it_runs() -> None:
    unmarked = [b.line for b in shell_blocks(README.read_text()) if b.mark is None]
    assert unmarked == [], f"README.md shell blocks without <!-- test: run|skip (why) --> at lines {unmarked}"


def test_the_mark_reader_sees_marks_and_their_absence() -> None:
    text = (
        "<!-- test: run -->\n```sh\necho a\n```\n\n```sh\necho b\n```\n"
        "<!-- test: skip (x) -->\n```bash\nc\n```\n"
    )
    assert [(b.mark, b.text) for b in shell_blocks(text)] == [
        ("run", "echo a"),
        (None, "echo b"),
        ("skip", "c"),
    ]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Path, int, dict[str, str]]]:
    """`dcloud up` in tmp_path (its store and tokens under ./var), and the environment a reader has."""
    port, name = free_port(), f"dctest-readme-{uuid.uuid4().hex[:6]}"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "dcloud"  # what `pip install` puts on PATH, for this checkout
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m controlplane.cli "$@"\n')
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCLOUD_")}
    env |= {
        "PATH": f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / ".config"),
        "LIBVIRT_DEFAULT_URI": "test:///default",  # `virsh` asks the same kind of libvirt the stack uses
    }
    up_env = env | {
        "DCLOUD_LIBVIRT_URI": "test:///default",
        "DCLOUD_HOST_NAME": name,
        "DCLOUD_STORAGE_POOL": name,
        "DCLOUD_STORAGE_POOL_PATH": str(tmp_path / "images"),
        "DCLOUD_API_PORT": str(port),
        "DCLOUD_WHOIS_PORT": str(free_port()),
        "DCLOUD_AGENT_METRICS_PORT": str(free_port()),
        "DCLOUD_AGENT_POLL_INTERVAL_S": "1",
    }
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen(["dcloud", "up"], env=up_env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_the_host_is_up(tmp_path, port, proc)
        yield tmp_path, port, env
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_until_the_host_is_up(where: Path, port: int, proc: subprocess.Popen[bytes]) -> None:
    token_file, deadline = where / "var" / "admin.token", time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if token_file.exists():
            headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
            try:
                hosts = httpx.get(f"http://127.0.0.1:{port}/v1/hosts", headers=headers, timeout=2).json()
                if hosts and hosts[0]["health"] == "up":
                    return
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
        time.sleep(0.2)
    raise AssertionError(f"dcloud up never showed an up host:\n{(where / 'up.log').read_text()[-2000:]}")


def test_the_readme_examples_run_as_written(stack: tuple[Path, int, dict[str, str]]) -> None:
    where, port, env = stack
    runs = [b for b in shell_blocks(README.read_text()) if b.mark == "run"]
    assert len(runs) >= 4
    script = ["set -euo pipefail"]
    for block in runs:
        script += [
            f"echo '>>> README.md line {block.line}' >&2",
            block.text.replace(README_API, f"127.0.0.1:{port}"),
        ]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=where, env=env, capture_output=True, text=True, timeout=240
    )
    said = f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    assert done.returncode == 0, said
    assert "Traceback" not in done.stderr, said
    assert "suspended" in done.stdout and "web-1" in done.stdout, said
