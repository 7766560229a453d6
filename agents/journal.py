"""The agent's local deletion journal: which delete steps are done, per server, durable across crashes.

A delete is power off -> undefine -> re-check -> wipe each volume -> delete volumes -> remove the
network binding -> report. The irreversible steps must happen exactly once even when the agent is
killed between any two of them, so each finished step is written here (JSON, fsync + rename) before
the next one starts, and the next pass resumes from what the journal says.

The journal calls its `after_step` hook with each step's name once that step is durable (and the
reconciler calls it with `REPORT_SENT`). Production passes nothing; the crash tests pass a hook that
SIGKILLs the process at a chosen step, which is exactly "kill -9 between steps".
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from controlplane.protocol import DeletionReport, DesiredServer, SharedBase, WipedVolume

# Step names, in the order the delete sequence journals them.
STEP_BEGIN = "begin"
STEP_POWER_OFF = "power_off"  # the domain is off, still defined
STEP_DESTROY = "destroy"  # off and undefined
STEP_WIPE = "wipe"  # journaled once per volume
STEP_DELETE_VOLUME = "delete_volume"  # journaled once per volume
STEP_NETWORK = "network"
STEP_REPORT_READY = "report_ready"
# Not journaled, only a crash point: the control plane accepted the report, the entry is not yet gone.
REPORT_SENT = "report_sent"
STEPS = (
    STEP_BEGIN,
    STEP_POWER_OFF,
    STEP_DESTROY,
    STEP_WIPE,
    STEP_DELETE_VOLUME,
    STEP_NETWORK,
    STEP_REPORT_READY,
    REPORT_SENT,
)

StepHook = Callable[[str], None]

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class WipeRecord(BaseModel):
    """One volume's wipe, as agents.wipe.WipeResult reported it."""

    name: str
    path: str
    capacity_bytes: int
    bytes_overwritten: int
    method: str
    started_at: datetime
    finished_at: datetime


class DeletionEntry(BaseModel):
    """Everything needed to finish (and report) one server's deletion after a crash."""

    # A snapshot of the desired server: the control plane may stop listing it mid-delete, and the
    # network binding can only be removed with its MAC/IP.
    server: DesiredServer
    domain_name: str
    started_at: datetime
    steps: list[str] = Field(default_factory=list)
    wiped: dict[str, WipeRecord] = Field(default_factory=dict)
    deleted_volumes: list[str] = Field(default_factory=list)
    # Image bases under the server's overlay, found before anything was deleted: reported, never wiped.
    shared_bases: list[SharedBase] = Field(default_factory=list)
    finished_at: datetime | None = None

    def done(self, step: str) -> bool:
        return step in self.steps

    def to_report(self) -> DeletionReport:
        """The deletion record the control plane keeps, built only from journaled results."""
        wipes = sorted(self.wiped.values(), key=lambda w: w.name)
        methods = sorted({w.method for w in wipes}) or ["none"]
        return DeletionReport(
            server_id=self.server.id,
            domain_name=self.domain_name,
            volumes=[
                WipedVolume(
                    name=w.name,
                    path=w.path,
                    capacity_bytes=w.capacity_bytes,
                    bytes_overwritten=w.bytes_overwritten,
                )
                for w in wipes
            ],
            shared_bases=list(self.shared_bases),
            bytes_overwritten=sum(w.bytes_overwritten for w in wipes),
            method=",".join(methods),
            started_at=self.started_at,
            finished_at=self.finished_at or self.started_at,
        )


class DeletionJournal:
    """One JSON file per server under `<state_dir>/deletions/`, each replaced atomically."""

    def __init__(self, state_dir: str | os.PathLike[str], *, after_step: StepHook | None = None) -> None:
        self.directory = Path(state_dir) / "deletions"
        self.after_step: StepHook = after_step or _no_hook
        self.directory.mkdir(parents=True, exist_ok=True)

    def load(self, server_id: str) -> DeletionEntry | None:
        path = self._path(server_id)
        try:
            return DeletionEntry.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None

    def entries(self) -> list[DeletionEntry]:
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append(DeletionEntry.model_validate_json(path.read_bytes()))
            except FileNotFoundError:  # removed by a concurrent pass between glob and read
                continue
        return found

    def record(self, entry: DeletionEntry, step: str) -> None:
        """Mark `step` done and make it durable before returning; then call the `after_step` hook."""
        if step not in entry.steps:
            entry.steps.append(step)
        self._write(entry)
        self.after_step(step)

    def remove(self, server_id: str) -> None:
        self._path(server_id).unlink(missing_ok=True)
        _fsync_dir(self.directory)

    def acknowledge(self, server_id: str) -> None:
        """The control plane accepted the report: leave a tombstone, then drop the entry.

        The tombstone keeps a restarted agent from reporting the same deletion again while the
        control plane still lists the server as `deleted`.
        """
        tombstone = self._tombstone(server_id)
        tombstone.parent.mkdir(exist_ok=True)
        tombstone.write_text(server_id)
        _fsync_dir(tombstone.parent)
        self.remove(server_id)

    def acknowledged(self, server_id: str) -> bool:
        return self._tombstone(server_id).exists()

    def acknowledged_ids(self) -> set[str]:
        directory = self.directory / "reported"
        return {p.read_text() or p.stem for p in directory.glob("*")} if directory.exists() else set()

    def forget_acknowledged(self, server_id: str) -> None:
        """Drop the tombstone once the control plane no longer lists the server."""
        self._tombstone(server_id).unlink(missing_ok=True)

    def _write(self, entry: DeletionEntry) -> None:
        path = self._path(entry.server.id)
        tmp = path.with_suffix(".json.tmp")
        data = entry.model_dump_json(indent=1).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        # rename is atomic; the directory fsync makes the rename itself survive a power cut.
        os.replace(tmp, path)
        _fsync_dir(self.directory)

    def _path(self, server_id: str) -> Path:
        return self.directory / f"{_file_stem(server_id)}.json"

    def _tombstone(self, server_id: str) -> Path:
        return self.directory / "reported" / _file_stem(server_id)


def _file_stem(server_id: str) -> str:
    if _SAFE_ID.match(server_id) and server_id not in {".", ".."}:
        return server_id
    # Never let an id choose a path outside the journal directory.
    return "h-" + hashlib.sha256(server_id.encode()).hexdigest()


def _no_hook(_step: str) -> None:
    """Nothing happens between steps unless a test injected a hook."""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
