"""Converge this host's libvirt to the control plane's desired state, and report what is there.

Like a Kubernetes controller: every action is idempotent and chosen from (desired, observed), so a
pass that follows a crash simply continues. One server's failure is logged and counted and never
stops the others. Domains dcloud does not own are reported as orphans and never touched.

Given a `ServerDispatch` (agents/dispatch.py), servers converge in parallel, one step at a time each:
a server still busy from an earlier pass is reported as it stands, and its slow step (a stop waiting
for ACPI, a managed save, a wipe) reports itself when it ends. Without one, servers converge in turn.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import assert_never

import libvirt

from agents.client import ControlPlaneRejected, ControlPlaneUnavailable, DesiredSource
from agents.deletion import DeletionSequence, WipeNotConfirmed
from agents.dispatch import ServerDispatch
from agents.driver import DriverError
from agents.host_driver import HostDriver, StepDeferred
from agents.journal import REPORT_SENT, DeletionJournal
from agents.metrics import AgentMetrics
from controlplane.clock import Clock, system_clock
from controlplane.protocol import (
    DesiredServer,
    DesiredState,
    HostObservedState,
    ObservedServer,
    ObservedState,
    traffic_key,
)

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DETAIL_MAX = 4096  # ObservedServer.detail's limit (controlplane/protocol.py)


class PowerAction(StrEnum):
    """One step toward a live desired state; each is one HostDriver call of the same name."""

    START = "start"
    RESUME = "resume"
    STOP = "stop"
    SUSPEND = "suspend"


# desired state -> {observed state -> action}; a missing key means "nothing to do".
_D, _O = DesiredState, ObservedState
_TRANSITIONS: dict[DesiredState, dict[ObservedState, PowerAction]] = {
    _D.RUNNING: {_O.SHUTOFF: PowerAction.START, _O.PAUSED: PowerAction.RESUME, _O.SAVED: PowerAction.RESUME},
    # stop also discards a managed-save image: a stopped server boots fresh.
    _D.STOPPED: {_O.RUNNING: PowerAction.STOP, _O.PAUSED: PowerAction.STOP, _O.SAVED: PowerAction.STOP},
    # a server that is off when suspended is started paused (see LibvirtDriver.suspend)
    _D.SUSPENDED: {_O.RUNNING: PowerAction.SUSPEND, _O.SHUTOFF: PowerAction.SUSPEND},
}


# What the domain's definition is derived from besides the generation: an SMTP block that starts on
# its announced day or a newly leased address changes these without any write to the server row.
# Every attachment field counts: the seed's network-config is built from prefix, gateway and DNS too.
DefinitionKey = tuple[int, bool, tuple[str, ...], str]


def definition_key(server: DesiredServer) -> DefinitionKey:
    networks = tuple(n.model_dump_json() for n in server.networks)
    return (server.generation, server.block_outbound_smtp, networks, traffic_key(server))


class DeletionInterrupted(Exception):
    """Volumes were already wiped, so the server cannot go back to running; an operator must look."""


@dataclass
class PassResult:
    observed: HostObservedState
    errors: dict[str, str] = field(default_factory=dict)
    reported: bool = False


class Reconciler:
    """One agent's convergence logic over a HostDriver (agents/host_driver.py) and a DesiredSource."""

    def __init__(
        self,
        driver: HostDriver,
        source: DesiredSource,
        journal: DeletionJournal,
        metrics: AgentMetrics | None = None,
        *,
        clock: Clock = system_clock,
        dispatch: ServerDispatch[PassResult] | None = None,
    ) -> None:
        self.driver = driver
        self.dispatch = dispatch
        self.source = source
        self.journal = journal
        self.metrics = metrics
        self._deletion = DeletionSequence(driver, source, journal, clock=clock)
        # server id -> generation this process already passed to ensure_defined; saves a pass
        # full of no-op redefinitions. A resync clears it so everything is re-verified.
        self._ensured: dict[str, DefinitionKey] = {}

    def run_once(self, *, resync: bool = False) -> PassResult:
        """A full pass: pull all desired state, converge every server, report everything (full=True)."""
        started = time.perf_counter()
        if resync:
            self._ensured.clear()
        desired = self.source.desired()
        listed = {server.id: server for server in desired.servers}
        current = self.driver.managed_domains()
        result = PassResult(observed=HostObservedState(full=True))
        self._converge_all(result, [(server, current.get(server.id)) for server in desired.servers])
        for server_id, state in sorted(current.items()):
            if server_id not in listed:  # ours by name and metadata, unknown to the control plane
                result.observed.servers.append(ObservedServer(id=server_id, state=state))
        self._drop_unlisted(listed)
        self.driver.prune_traffic_filters(desired.servers)  # Art. 20(8): a gone contract's firewall
        self.driver.prune_image_bases(desired.servers)
        self.driver.prune_reboot_waits(desired.servers)
        result.observed.orphans = self.driver.orphans()
        self._report(result)
        self._observe_duration(time.perf_counter() - started)
        return result

    def reconcile_servers(self, server_ids: Iterable[str]) -> PassResult:
        """A prompt pass for servers a libvirt event named; reports only those (full=False)."""
        started = time.perf_counter()
        result = PassResult(observed=HostObservedState(full=False))
        wanted: list[tuple[DesiredServer, ObservedState | None]] = []
        for server_id in sorted(set(server_ids)):
            if self.dispatch is not None and self.dispatch.busy(server_id):
                continue  # its work in flight reports it when done
            try:
                server = self.source.desired_one(server_id)
            except (ControlPlaneUnavailable, ControlPlaneRejected) as exc:
                self._count_error(result, server_id, "control_plane", exc)
                continue
            if server is None:
                state = self.driver.observe(server_id)
                result.observed.servers.append(ObservedServer(id=server_id, state=state))
                continue
            wanted.append((server, None))
        self._converge_all(result, wanted)
        self._report(result)
        self._observe_duration(time.perf_counter() - started)
        return result

    def _converge_all(
        self, result: PassResult, servers: list[tuple[DesiredServer, ObservedState | None]]
    ) -> None:
        """Converge each server, in turn or through the dispatch; a busy one is reported as it stands."""
        if self.dispatch is None:
            for server, state in servers:
                self._converge_into(result, server, state)
            return
        jobs = {server.id: self._job(server, state) for server, state in servers}
        submitted = self.dispatch.run(jobs)
        for server, _state in servers:
            if server.id in submitted.done:
                _merge(result, submitted.done[server.id])
            elif server.id in submitted.busy:
                state, _detail = self.driver.observe_detail(server.id)
                detail = "busy: a step ordered earlier is still running"
                result.observed.servers.append(ObservedServer(id=server.id, state=state, detail=detail))

    def _job(self, server: DesiredServer, state: ObservedState | None) -> Callable[[], PassResult]:
        def converge_one() -> PassResult:
            part = PassResult(observed=HostObservedState(full=False))
            self._converge_into(part, server, state)
            return part

        return converge_one

    def report_late(self, _server_id: str, part: PassResult) -> None:
        """A step that outlasted its pass ends (on a worker thread): report that server alone."""
        self._report(part)

    def _converge_into(self, result: PassResult, server: DesiredServer, state: ObservedState | None) -> None:
        """Converge one server, catching its failure so the pass goes on."""
        try:
            match server.desired_state:
                case DesiredState.DELETED:
                    observed = self._converge_deleted(result, server)
                case DesiredState.RUNNING | DesiredState.STOPPED | DesiredState.SUSPENDED:
                    observed = self._converge_live(server, state)
                case unknown:
                    assert_never(unknown)
        except StepDeferred as exc:  # waits on something else (an image being fetched): not an error
            log.info("%s: %s", server.id, exc)
            observed = ObservedServer(
                id=server.id,
                state=self._deferred_state(server.id),
                detail=failure_detail(exc, with_type=False),
            )
        except WipeNotConfirmed as exc:
            log.warning("%s", exc)
            self._count("wipe_not_confirmed")
            detail = failure_detail(exc, with_type=False)
            observed = ObservedServer(id=server.id, state=self.driver.observe(server.id), detail=detail)
        except Exception as exc:
            observed = ObservedServer(id=server.id, state=_O.ERROR, detail=failure_detail(exc))
            self._count_error(result, server.id, _error_kind(exc), exc)
        result.observed.servers.append(observed)

    def _deferred_state(self, server_id: str) -> ObservedState:
        """A server whose step waits: as it stands, and pending while nothing of it exists yet."""
        state = self.driver.observe(server_id)
        return _O.PENDING if state == _O.DELETED else state

    def _converge_live(self, server: DesiredServer, state: ObservedState | None) -> ObservedServer:
        """running / stopped / suspended: define if needed, then one transition toward desired."""
        self._abandon_deletion(server.id)
        if state is None:
            state = self.driver.observe(server.id)
        # "pending": volume without a domain (first pass cut short, or a delete cancelled pre-wipe).
        if state in (_O.DELETED, _O.PENDING) or self._ensured.get(server.id) != definition_key(server):
            self.driver.ensure_defined(server)
            self.driver.ensure_network_binding(server)
            self._ensured[server.id] = definition_key(server)
            state = self.driver.observe(server.id)
        action = self._action_for(server, state)
        detail = None
        if action is not None:
            log.info("%s: %s -> %s (%s)", server.id, state, server.desired_state, action)
            self._apply(action, server)
            state, detail = self.driver.observe_detail(server.id)
        if server.reboot is not None and state in (_O.RUNNING, _O.SHUTOFF):
            self.driver.ensure_rebooted(server)
        elif server.reboot is not None and state in (_O.PAUSED, _O.SAVED):
            self.driver.void_reboot(server)  # suspended first: no reboot (nor reset) at a later resume
        else:  # failed meanwhile: a soft reboot waited on ends without a reset
            self.driver.abandon_reboot_wait(server.id)
        size = self.driver.observe_size(server.id)
        return ObservedServer(
            id=server.id,
            state=state,
            detail=detail,
            generation=server.generation,
            vcpus=size.vcpus if size else None,
            memory_mib=size.memory_mib if size else None,
            disk_bytes=size.disk_bytes if size else None,
        )

    def _action_for(self, server: DesiredServer, observed: ObservedState) -> PowerAction | None:
        desired = server.desired_state
        mode = server.suspend_mode or self.driver.suspend_mode
        if desired == _D.SUSPENDED and observed == _O.PAUSED and mode == "managedsave":
            return PowerAction.SUSPEND  # paused under the other mode: move to a managed save as ordered
        return _TRANSITIONS.get(desired, {}).get(observed)

    def _apply(self, action: PowerAction, server: DesiredServer) -> None:
        server_id = server.id
        match action:
            case PowerAction.START:
                self.driver.start(server_id)
            case PowerAction.RESUME:
                self.driver.resume(server_id)
            case PowerAction.STOP:
                self.driver.stop(server_id)
            case PowerAction.SUSPEND:
                self.driver.suspend(server_id, server.suspend_mode)
            case unknown:
                assert_never(unknown)

    def _converge_deleted(self, result: PassResult, server: DesiredServer) -> ObservedServer:
        self._ensured.pop(server.id, None)
        self.driver.abandon_reboot_wait(server.id)
        if self.journal.acknowledged(server.id):  # reported and accepted already; nothing left to do
            self.journal.remove(server.id)
            return ObservedServer(id=server.id, state=ObservedState.DELETED, generation=server.generation)
        entry = self._deletion.run(server)
        result.observed.deletions.append(entry.to_report())
        return ObservedServer(id=server.id, state=ObservedState.DELETED, generation=server.generation)

    def _abandon_deletion(self, server_id: str) -> None:
        """A server no longer desired deleted: forget an unfinished delete, unless a wipe already ran."""
        entry = self.journal.load(server_id)
        if entry is None:
            return
        if entry.wiped:
            raise DeletionInterrupted(
                f"server {server_id} is no longer desired deleted but its volumes were already wiped"
            )
        log.info("%s: delete cancelled before any wipe; journal entry dropped", server_id)
        self.journal.remove(server_id)

    def _drop_unlisted(self, listed: dict[str, DesiredServer]) -> None:
        """Forget journal entries and tombstones of servers the control plane no longer lists."""
        for server_id in self.journal.acknowledged_ids() - listed.keys():
            self.journal.forget_acknowledged(server_id)
        for entry in self.journal.entries():
            server_id = entry.server.id
            if server_id in listed:
                continue
            if self.driver.observe(server_id) == ObservedState.DELETED:
                self.journal.remove(server_id)
            else:  # cannot re-check a server the control plane does not know: never wipe it
                log.warning("%s: unlisted server with an unfinished delete; leaving it", server_id)
                self._count("deletion_stalled")

    def _report(self, result: PassResult) -> None:
        try:
            self.source.report(result.observed)
        except Exception as exc:  # journaled deletions are re-sent next pass
            self._count_error(result, "-", "control_plane", exc)
            return
        result.reported = True
        if result.observed.deletions:
            self.journal.after_step(REPORT_SENT)
        for report in result.observed.deletions:
            self.journal.acknowledge(report.server_id)

    def _count_error(self, result: PassResult, server_id: str, kind: str, exc: BaseException) -> None:
        log.error("reconcile %s failed (%s): %s", server_id, kind, exc)
        result.errors[server_id] = f"{type(exc).__name__}: {exc}"
        self._count(kind)

    def _count(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.count_error(kind)

    def _observe_duration(self, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_reconcile(seconds)


def _merge(result: PassResult, part: PassResult) -> None:
    result.observed.servers.extend(part.observed.servers)
    result.observed.deletions.extend(part.observed.deletions)
    result.errors.update(part.errors)


def failure_detail(exc: BaseException, *, with_type: bool = True) -> str:
    """The reason as one printable line the report accepts: libvirt's messages end in a newline
    (an ENOSPC from qemu-img, say), and a report refused for it would lose the whole pass."""
    text = f"{type(exc).__name__}: {exc}" if with_type else str(exc)
    return " ".join(_CONTROL.sub(" ", text).split())[:_DETAIL_MAX]


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, libvirt.libvirtError | DriverError):
        return "libvirt"
    if isinstance(exc, ControlPlaneUnavailable | ControlPlaneRejected):
        return "control_plane"
    if isinstance(exc, DeletionInterrupted):
        return "deletion_interrupted"
    if isinstance(exc, OSError):
        return "io"
    return "internal"
