"""`dcloud serve --with-scheduler`: a replica serves the API, runs the scheduler, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from controlplane.db import make_engine
from controlplane.migrations import upgrade


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_with_scheduler_answers_and_stops_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/serve.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "DCLOUD_DATABASE_URL": url, "DCLOUD_STATE_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", "serve", "--with-scheduler", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code
            except httpx.HTTPError:
                time.sleep(0.2)
        assert status == 200
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "scheduler.runner INFO scheduler started with" in output  # beside the API
