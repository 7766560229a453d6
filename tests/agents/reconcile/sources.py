"""DesiredSource implementations for agent tests: in memory, and file-backed for subprocess agents.

Both mirror what the control plane does with a DeletionReport: the server stops being listed
(controlplane/services/agent_state.py sets deleted_at), while `desired_one` still answers for it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from agents.client import ControlPlaneUnavailable
from controlplane.protocol import DesiredServer, DesiredState, Heartbeat, HostDesiredState, HostObservedState


class MemorySource:
    """The control plane as a dict; `recheck` overrides what desired_one answers (None = unreachable)."""

    def __init__(self, servers: list[DesiredServer] | None = None, host: str = "dctest-host") -> None:
        self.host = host
        self.servers: dict[str, DesiredServer] = {s.id: s for s in servers or []}
        self.deleted: set[str] = set()
        self.reports: list[HostObservedState] = []
        self.heartbeats: list[Heartbeat] = []
        self.recheck: dict[str, str | None] = {}
        self.recheck_calls: list[str] = []

    def set_state(self, server_id: str, state: str) -> None:
        current = self.servers[server_id]
        self.servers[server_id] = current.model_copy(
            update={"desired_state": DesiredState(state), "generation": current.generation + 1}
        )

    def desired(self) -> HostDesiredState:
        listed = [s for sid, s in self.servers.items() if sid not in self.deleted]
        return HostDesiredState(host=self.host, servers=listed)

    def desired_one(self, server_id: str) -> DesiredServer | None:
        self.recheck_calls.append(server_id)
        if server_id in self.recheck:
            state = self.recheck[server_id]
            if state is None:
                raise ControlPlaneUnavailable("test: control plane unreachable")
            return self.servers[server_id].model_copy(update={"desired_state": state})
        return self.servers.get(server_id)

    def report(self, observed: HostObservedState) -> None:
        self.reports.append(observed.model_copy(deep=True))
        self.deleted.update(d.server_id for d in observed.deletions)

    def heartbeat(self, beat: Heartbeat) -> None:
        self.heartbeats.append(beat)

    def deletion_reports(self) -> list:
        return [d for r in self.reports for d in r.deletions]

    def last_state(self, server_id: str) -> str | None:
        for report in reversed(self.reports):
            for observed in report.servers:
                if observed.id == server_id:
                    return observed.state
        return None


class FileSource:
    """desired.json (a HostDesiredState) in, reports.jsonl (one HostObservedState per line) out."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.desired_path = self.directory / "desired.json"
        self.reports_path = self.directory / "reports.jsonl"

    def write_desired(self, state: HostDesiredState) -> None:
        tmp = self.desired_path.with_suffix(".tmp")
        tmp.write_text(state.model_dump_json())
        os.replace(tmp, self.desired_path)

    def desired(self) -> HostDesiredState:
        state = HostDesiredState.model_validate_json(self.desired_path.read_text())
        deleted = self._deleted_ids()
        return state.model_copy(update={"servers": [s for s in state.servers if s.id not in deleted]})

    def desired_one(self, server_id: str) -> DesiredServer | None:
        state = HostDesiredState.model_validate_json(self.desired_path.read_text())
        return next((s for s in state.servers if s.id == server_id), None)

    def report(self, observed: HostObservedState) -> None:
        with self.reports_path.open("a") as out:
            out.write(observed.model_dump_json() + "\n")
            out.flush()
            os.fsync(out.fileno())

    def heartbeat(self, beat: Heartbeat) -> None:
        return None

    def reports(self) -> list[HostObservedState]:
        if not self.reports_path.exists():
            return []
        lines = self.reports_path.read_text().splitlines()
        return [HostObservedState.model_validate(json.loads(line)) for line in lines if line]

    def _deleted_ids(self) -> set[str]:
        return {d.server_id for r in self.reports() for d in r.deletions}
