"""One server's delete: power off, undefine, re-check, wipe, delete volumes, unbind, ready to report.

Every step is journaled (agents/journal.py) before the next begins, so a pass that starts after a
crash skips what is done: a wiped volume is never wiped twice, and the report is rebuilt from the
journal. Wiping is irreversible (Art. 20(8)), so right before it the control plane is asked again
whether the server is still `deleted`; any other answer, or no answer, leaves the disks alone.
"""

from __future__ import annotations

import logging

import libvirt

from agents.client import DesiredSource
from agents.host_driver import HostDriver
from agents.journal import (
    STEP_BEGIN,
    STEP_DELETE_VOLUME,
    STEP_DESTROY,
    STEP_NETWORK,
    STEP_POWER_OFF,
    STEP_REPORT_READY,
    STEP_WIPE,
    DeletionEntry,
    DeletionJournal,
    WipeRecord,
)
from agents.wipe import wipe_volume
from controlplane.clock import Clock, system_clock
from controlplane.protocol import DesiredServer, DesiredState

log = logging.getLogger(__name__)


class WipeNotConfirmed(Exception):
    """The control plane did not confirm (at wipe time) that the server is still to be deleted."""


class DeletionSequence:
    """Runs (or resumes) one server's deletion; returns the journal entry once it is ready to report."""

    def __init__(
        self,
        driver: HostDriver,
        source: DesiredSource,
        journal: DeletionJournal,
        *,
        clock: Clock = system_clock,
    ) -> None:
        self._driver = driver
        self._source = source
        self._journal = journal
        self._clock = clock

    def run(self, server: DesiredServer) -> DeletionEntry:
        """Finish every remaining step; raises WipeNotConfirmed when the re-check says no."""
        entry = self._journal.load(server.id) or self._begin(server)
        if not entry.done(STEP_POWER_OFF) and not entry.done(STEP_DESTROY):
            self._driver.power_off(server.id)
            self._journal.record(entry, STEP_POWER_OFF)
        if not entry.done(STEP_DESTROY):
            self._driver.destroy_and_undefine(server.id)
            self._journal.record(entry, STEP_DESTROY)
        volumes = [v for v in self._driver.server_volumes(server.id) if v.name() not in entry.deleted_volumes]
        self._wipe_all(entry, [v for v in volumes if v.name() not in entry.wiped])
        for vol in volumes:
            name = vol.name()
            self._driver.delete_volume(vol)
            entry.deleted_volumes.append(name)
            self._journal.record(entry, STEP_DELETE_VOLUME)
        if not entry.done(STEP_NETWORK):
            self._driver.remove_network_binding(entry.server)
            self._journal.record(entry, STEP_NETWORK)
        if not entry.done(STEP_REPORT_READY):
            entry.finished_at = self._clock()
            self._journal.record(entry, STEP_REPORT_READY)
        return entry

    def _begin(self, server: DesiredServer) -> DeletionEntry:
        entry = DeletionEntry(
            server=server,
            domain_name=self._driver.domain_name(server.id),
            started_at=self._clock(),
            # Before any volume goes: afterwards no overlay would say which base it sat on.
            shared_bases=self._driver.shared_bases(server.id),
        )
        self._journal.record(entry, STEP_BEGIN)
        return entry

    def _wipe_all(self, entry: DeletionEntry, pending: list[libvirt.virStorageVol]) -> None:
        if not pending:
            return
        # The irreversible step re-checks its precondition at the moment it acts.
        if not self._still_deleted(entry.server.id):
            raise WipeNotConfirmed(f"server {entry.server.id} is no longer confirmed deleted; not wiping")
        for vol in pending:
            result = wipe_volume(vol, clock=self._clock)
            entry.wiped[result.name] = WipeRecord(
                name=result.name,
                path=result.path,
                capacity_bytes=result.capacity_bytes,
                bytes_overwritten=result.bytes_overwritten,
                method=result.method,
                started_at=result.started_at,
                finished_at=result.finished_at,
            )
            log.info("wiped %s: %d bytes (%s)", result.name, result.bytes_overwritten, result.method)
            self._journal.record(entry, STEP_WIPE)

    def _still_deleted(self, server_id: str) -> bool:
        try:
            current = self._source.desired_one(server_id)
        except Exception as exc:  # unreachable or refusing: no confirmation, no wipe
            log.warning("re-check of %s before wipe failed: %s", server_id, exc)
            return False
        return current is not None and current.desired_state == DesiredState.DELETED
