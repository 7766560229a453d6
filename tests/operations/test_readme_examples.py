"""The README's examples run as written: every ```sh block carries a mark on the line before its fence,
`<!-- test: run -->` or `<!-- test: skip (reason) -->`, and each `run` block runs in bash (`set -eu`)
against a stack started here on loopback: the API (uvicorn) on a private SQLite store, with
DCLOUD_API_URL, DCLOUD_TOKEN (admin) and DCLOUD_DATABASE_URL pointing at it and `dcloud` on PATH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from alembic import command
from sqlalchemy import Engine

from controlplane.main import create_app
from controlplane.migrations import alembic_config
from tests.utils.api import make_api

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_MARK = re.compile(r"<!-- test: (run|skip \([^)]+\)) -->")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    mark: str | None
    text: str


def sh_blocks(markdown: str) -> list[Block]:
    lines, blocks, at = markdown.splitlines(), [], 0
    while at < len(lines):
        if lines[at].strip() == "```sh":
            end = next(i for i in range(at + 1, len(lines)) if lines[i].strip() == "```")
            found = _MARK.fullmatch(lines[at - 1].strip()) if at else None
            blocks.append(Block(at + 1, found.group(1) if found else None, "\n".join(lines[at + 1 : end])))
            at = end
        at += 1
    return blocks


def test_every_sh_block_says_whether_it_runs() -> None:
    unmarked = [block.line for block in sh_blocks(README.read_text()) if block.mark is None]
    assert unmarked == [], f"README.md sh blocks without <!-- test: run|skip (reason) -->: lines {unmarked}"


def test_a_block_without_a_mark_is_found() -> None:
    blocks = sh_blocks("<!-- test: run -->\n```sh\ntrue\n```\n\n```sh\nfalse\n```\n")
    assert [(b.line, b.mark) for b in blocks] == [(2, "run"), (6, None)]


@pytest.fixture
def stack(sqlite_engine: Engine, sqlite_store_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    # The store as `dcloud up` leaves it: every table, and Alembic's record that it is at head.
    command.stamp(alembic_config(sqlite_engine), "head")
    api = make_api(sqlite_engine)
    app = create_app(settings=api.settings, engine=sqlite_engine, clock=api.clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dcloud").write_text(f'#!/bin/sh\nexec {sys.executable} -m controlplane.cli "$@"\n')
    (bin_dir / "dcloud").chmod(0o755)
    try:
        yield {
            **{k: v for k, v in os.environ.items() if not k.startswith("DCLOUD_")},
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "DCLOUD_API_URL": f"http://127.0.0.1:{port}",
            "DCLOUD_TOKEN": api.tokens["admin"],
            "DCLOUD_DATABASE_URL": sqlite_store_url,
            "DCLOUD_CLI_CONFIG": str(tmp_path / "cli.toml"),
        }
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_run_blocks_run_as_written(stack: dict[str, str], tmp_path: Path) -> None:
    runnable = [block for block in sh_blocks(README.read_text()) if block.mark == "run"]
    assert runnable, "no README block is marked to run"
    for block in runnable:
        done = subprocess.run(
            ["bash", "-eu", "-c", block.text],
            env=stack,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=50,
            check=False,
        )
        assert done.returncode == 0, f"README.md block at line {block.line} failed:\n{done.stderr[-2000:]}"
