"""`dcloud serve`: a replica serves the API (and the scheduler), stops on SIGTERM, answering open watches."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from agents.client import ControlPlaneClient
from controlplane.clock import system_clock
from controlplane.db import make_engine
from controlplane.migrations import upgrade
from controlplane.models.auth import Role
from controlplane.services.tokens import issue_token
from tests.utils.factories import make_host


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


def _serve_with_an_agent_token(tmp_path: Path) -> tuple[subprocess.Popen[str], str, str]:
    """`dcloud serve` on a free port of a store with host hv1; returns the process, its URL, hv1's token."""
    url = f"sqlite:///{tmp_path}/serve.db"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        make_host(session, "hv1")
        session.commit()
        token = issue_token(
            session, now=system_clock(), actor="test", role=Role.AGENT, name="agent-hv1", host_name="hv1"
        ).plaintext
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "DCLOUD_DATABASE_URL": url, "DCLOUD_STATE_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    return proc, base, token


def test_sigterm_answers_open_watches_and_exits_cleanly(tmp_path: Path) -> None:
    proc, base, token = _serve_with_an_agent_token(tmp_path)
    answers: dict[str, Any] = {}
    try:
        agent = ControlPlaneClient(base, token, "hv1")
        agent.desired()
        since = agent.desired_version or ""

        def raw_watch() -> None:
            answers["raw"] = httpx.get(
                f"{base}/v1/hosts/hv1/desired-state/watch",
                params={"since": since, "wait_s": 30},
                headers={"Authorization": f"Bearer {token}"},
                timeout=40,
            )
            answers["raw_at"] = time.monotonic()

        def agent_watch() -> None:
            answers["agent"] = agent.watch(since, 30)  # a 5xx or a reset would raise here

        watchers = [threading.Thread(target=raw_watch), threading.Thread(target=agent_watch)]
        for watcher in watchers:
            watcher.start()
        time.sleep(1.0)  # both watches are waiting by now
        assert "raw" not in answers
        signalled_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for watcher in watchers:
            watcher.join(timeout=20)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # The answer a watch gets when its wait runs out, well before uvicorn's 3 s graceful timeout.
    assert answers["raw"].status_code == 200, stderr
    assert answers["raw"].json() == {"version": since}
    assert answers["raw_at"] - signalled_at < 2.5
    assert answers["agent"] == since  # the agent watches again from the same version: nothing skipped
    assert proc.returncode == 0, stderr
    for trace in ("Traceback", "Exception in ASGI application", "timeout graceful shutdown exceeded"):
        assert trace not in stderr, stderr
