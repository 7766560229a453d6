"""One logging setup for every entry point: the agent's INFO lines reach the handler, JSON lines are one
object per line, APScheduler's per-run lines are off unless asked for."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controlplane.cli.logs import LogLevelsInvalid, configure_logging, parse_levels
from controlplane.clock import FixedClock
from controlplane.config import Settings
from scheduler.leader import SingleProcessLeader
from scheduler.registry import JobContext, JobRegistry, register_job
from scheduler.runner import build_scheduler

ROOT = Path(__file__).resolve().parents[2]
AGENT_INFO = "agents.runner INFO agent metrics on port"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the tests that follow."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    apscheduler_level = logging.getLogger("apscheduler").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(apscheduler_level)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _agent_stderr(tmp_path: Path, *flags: str, until: str) -> list[str]:
    """Runs `dcloud [flags] agent` against libvirt's test driver and no control plane (nothing listens on
    its URL) until a stderr line contains `until`, then stops it with SIGTERM; returns the stderr lines."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # this checkout, not whatever the venv's editable install points at
        "DCLOUD_TOKEN": "agent-token-for-a-test",
        "DCLOUD_API_URL": f"http://127.0.0.1:{_free_port()}",
        "DCLOUD_HOST_NAME": "log-test-host",
        "DCLOUD_LIBVIRT_URI": "test:///default",
        "DCLOUD_STATE_DIR": str(tmp_path),
        "DCLOUD_AGENT_METRICS_PORT": str(_free_port()),
        "DCLOUD_AGENT_WATCH": "false",
    }
    for name in ("DCLOUD_LOG_FORMAT", "DCLOUD_LOG_LEVELS"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", *flags, "agent"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr = proc.stderr
    assert stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any(until in line for line in list(lines)) and proc.poll() is None:
            assert time.monotonic() < deadline, "\n".join(lines)
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "\n".join(lines)
    return lines


def test_agent_entry_point_logs_info_through_the_configured_handler(tmp_path: Path) -> None:
    lines = _agent_stderr(tmp_path, until=AGENT_INFO)
    info = [line for line in lines if AGENT_INFO in line]
    assert info, "\n".join(lines)
    # The configured text format (time, logger, level), not the last-resort handler's bare message.
    datetime.strptime(info[0].split(",")[0], "%Y-%m-%d %H:%M:%S")


def test_agent_json_lines_are_one_json_object_per_line(tmp_path: Path) -> None:
    lines = _agent_stderr(tmp_path, "--log-format", "json", until='"logger": "agents.runner"')
    records = [json.loads(line) for line in lines]
    assert all(set(r) >= {"time", "level", "logger", "message"} for r in records)
    assert any(
        r["logger"] == "agents.runner"
        and r["level"] == "INFO"
        and r["message"].startswith("agent metrics on port")
        for r in records
    )


def test_json_lines_keep_multiline_messages_and_tracebacks_on_one_line() -> None:
    out = io.StringIO()
    configure_logging(log_format="json", stream=out)
    log = logging.getLogger("dcloud.test")
    log.info("first line\nsecond line")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "first line\nsecond line"
    assert second["level"] == "ERROR" and "RuntimeError: boom" in second["exception"]


def _scheduler_log(engine: Engine, levels: str | None) -> str:
    out = io.StringIO()
    configure_logging(levels=levels, stream=out)
    registry, ran = JobRegistry(), threading.Event()
    register_job("tick", seconds=60, registry=registry)(lambda ctx: ran.set())
    clock = FixedClock(datetime(2027, 3, 1, tzinfo=UTC))
    context = JobContext(engine=engine, settings=Settings(), clock=clock)
    scheduler = build_scheduler(context=context, elector=SingleProcessLeader(), registry=registry)
    scheduler.start()
    try:
        assert ran.wait(timeout=5)
    finally:
        scheduler.shutdown(wait=True)
    return out.getvalue()


def test_a_line_per_job_run_is_off_by_default(sqlite_engine: Engine) -> None:
    assert "ran job tick" not in _scheduler_log(sqlite_engine, levels=None)


def test_a_line_per_job_run_appears_when_asked_for(sqlite_engine: Engine) -> None:
    assert "ran job tick" in _scheduler_log(sqlite_engine, levels="scheduler.runner=DEBUG")


def test_levels_per_logger_and_a_bare_root_level() -> None:
    assert parse_levels("debug, apscheduler=INFO,uvicorn.access=warning") == {
        "": logging.DEBUG,
        "apscheduler": logging.INFO,
        "uvicorn.access": logging.WARNING,
    }
    with pytest.raises(LogLevelsInvalid, match="LOUD"):
        parse_levels("apscheduler=LOUD")


def test_one_shot_commands_log_from_warning(capsys: pytest.CaptureFixture[str]) -> None:
    from controlplane.cli import main

    assert main(["terms", "deadlines", "--due", "2027-02-28"]) == 0
    assert logging.getLogger().level == logging.WARNING
    assert main(["--log-levels", "nonsense=LOUD", "terms", "deadlines", "--due", "2027-02-28"]) == 1
    assert "DCLOUD_LOG_LEVELS" in capsys.readouterr().err
