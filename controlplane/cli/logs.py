"""The one logging setup of every `dcloud` entry point (`up`, `serve`, `agent`, `whois-server`, the rest).

One handler on the root logger, on stderr, in one format: text (`time logger LEVEL message`) or JSON
lines (`--log-format json` / DCLOUD_LOG_FORMAT=json: one object per record, one record per line).
Levels per logger come from `--log-levels` / DCLOUD_LOG_LEVELS, e.g. `DEBUG,apscheduler=INFO`: a bare
level sets the root. The long-running commands log from INFO, the one-shot ones (whose answer is on
stdout) from WARNING. APScheduler's per-run INFO lines ("Running job ...") are off unless asked for.

Records carry what the code logs and nothing more: no request bodies, no extra fields. A message is
one line whatever it quotes (a reason, a name, an agent's report): in text format every control or bidi
character of the message, line breaks included, is written as a visible `\\uXXXX`, so no logged value
can forge a record; JSON lines get the same from json.dumps (and bidi escaped the same way).

Access lines of what polls (agents' desired-state, watch, heartbeat and report routes; Prometheus scrapes;
load balancers' probes) are DEBUG, not INFO: an idle fleet must not write a line per agent per second.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
# Quiet by default: APScheduler logs two INFO lines per job run and one per job added; Alembic one per
# plugin it sets up whenever migrations are inspected.
DEFAULT_LEVELS: dict[str, int] = {"apscheduler": logging.WARNING, "alembic.runtime.plugins": logging.WARNING}
ROOT = ""


ACCESS_LOGGER = "uvicorn.access"
_POLLING_PATH = re.compile(
    r"^(/v1/hosts/[^/?]+/(desired-state(/watch)?|heartbeat|observed-state|servers/[^/?]+/desired-state)"
    r"|/metrics|/healthz|/readyz)(\?|$)"
)


class PollingAtDebug(logging.Filter):
    """uvicorn's access lines for polling routes become DEBUG records (and are dropped below DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        path = args[2] if len(args) >= 3 else None  # uvicorn: (client, method, path, http version, status)
        if not isinstance(path, str) or not _POLLING_PATH.match(path):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


class LogLevelsInvalid(ValueError):
    """DCLOUD_LOG_LEVELS (or --log-levels) names a level logging does not know."""


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """`text` with each control or bidi character written as `\\uXXXX`: one visible line."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class TextFormatter(logging.Formatter):
    """`time logger LEVEL message` with the message kept to one line; a traceback follows as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record; json.dumps escapes newlines, so a traceback stays on its line."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", record.getMessage()),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


_BIDI = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


class _DcloudHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so a second setup replaces it instead of adding one."""


def parse_levels(text: str | None) -> dict[str, int]:
    """`"DEBUG,apscheduler=INFO"` -> {"": DEBUG, "apscheduler": INFO}; a bad level raises."""
    levels: dict[str, int] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, level = item.rpartition("=")
        value = logging.getLevelName(level.strip().upper())
        if not isinstance(value, int):
            raise LogLevelsInvalid(f"unknown log level {level.strip()!r} in {item.strip()!r}")
        levels[name.strip() if sep else ROOT] = value
    return levels


def configure_logging(
    *,
    log_format: LogFormat = "text",
    levels: str | None = None,
    default_level: int = logging.INFO,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Installs (or re-installs) the one handler; returns it. Loggers not named keep their own levels."""
    wanted = {ROOT: default_level, **DEFAULT_LEVELS, **parse_levels(levels)}
    handler = _DcloudHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonLinesFormatter() if log_format == "json" else TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _DcloudHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    for name, level in wanted.items():
        logging.getLogger(name or None).setLevel(level)
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, PollingAtDebug) for f in access.filters):
        access.addFilter(PollingAtDebug())
    return handler
