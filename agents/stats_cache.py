"""Per-group reuse of libvirt stats between scrapes, for the groups that cost QEMU round trips.

`block`, `balloon`, `vcpu` and `cpu_total` each make libvirtd talk to every guest's QEMU monitor (or
cgroup); `state` and `interface` are answered from libvirtd's own memory. A scrape asks libvirt for the
cheap groups every time and for a slow group only once its last answer is older than the max age; the
other slow groups are filled in from that last answer. Each group's age is exposed as
`dcloud_agent_stats_age_seconds{group}`, so a dashboard can tell a flat counter from a stale one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libvirt

DomainStats = tuple[libvirt.virDomain, dict[str, Any]]

# Each group's name (as exposed in the age gauge) and the prefix of the keys libvirt returns for it.
SLOW_GROUPS: dict[int, tuple[str, str]] = {
    libvirt.VIR_DOMAIN_STATS_BLOCK: ("block", "block."),
    libvirt.VIR_DOMAIN_STATS_BALLOON: ("balloon", "balloon."),
    libvirt.VIR_DOMAIN_STATS_VCPU: ("vcpu", "vcpu."),
    libvirt.VIR_DOMAIN_STATS_CPU_TOTAL: ("cpu_total", "cpu."),
}


@dataclass
class _GroupAnswer:
    taken_at: float
    by_uuid: dict[str, dict[str, Any]] = field(default_factory=dict)
    stale: bool = False  # read again at the next scrape, whatever its age


class StatsGroupCache:
    """The last answer per slow group; `plan` says what to ask for, `merge` fills in the rest."""

    def __init__(self, groups: int, max_age_s: float, clock: Callable[[], float]) -> None:
        self._groups = groups  # everything a scrape exposes
        self._cached = [g for g in SLOW_GROUPS if g & groups]
        self._max_age_s = max_age_s
        self._clock = clock
        self._answers: dict[int, _GroupAnswer] = {}
        self._lock = threading.Lock()

    def plan(self) -> tuple[int, float]:
        """The groups to ask libvirt for now, and the time the answer will be stamped with."""
        now = self._clock()
        with self._lock:
            fresh = [
                g
                for g in self._cached
                if g in self._answers
                and not self._answers[g].stale
                and now - self._answers[g].taken_at < self._max_age_s
            ]
        asked = self._groups
        for group in fresh:
            asked &= ~group
        return asked, now

    def merge(self, records: list[DomainStats], asked: int, now: float) -> list[DomainStats]:
        """Stores the slow groups just read; adds the cached ones to each record (a copy, not in place)."""
        if self._max_age_s <= 0:
            # No reuse: every group was just read. Only the read time is kept, for the age gauge.
            with self._lock:
                for group in self._cached:
                    self._answers[group] = _GroupAnswer(now)
            return records
        uuids = [dom.UUIDString() for dom, _stats in records]  # cached in the handle: no RPC
        with self._lock:
            for group in self._cached:
                if group & asked:
                    prefix = SLOW_GROUPS[group][1]
                    answer = _GroupAnswer(now)
                    for uuid, (_dom, stats) in zip(uuids, records, strict=True):
                        answer.by_uuid[uuid] = {k: v for k, v in stats.items() if k.startswith(prefix)}
                    self._answers[group] = answer
            reused = [self._answers[g] for g in self._cached if not g & asked and g in self._answers]
            for answer in reused:
                if any(uuid not in answer.by_uuid for uuid in uuids):
                    # A domain new since that read has none of the group: read it again at the next scrape.
                    answer.stale = True
        if not reused:
            return records
        merged: list[DomainStats] = []
        for uuid, (dom, stats) in zip(uuids, records, strict=True):
            combined = dict(stats)
            for answer in reused:
                combined.update(answer.by_uuid.get(uuid, {}))
            merged.append((dom, combined))
        return merged

    def ages(self, now: float) -> dict[str, float]:
        """Seconds from each slow group's last libvirt read to `now`; groups never read are absent."""
        with self._lock:
            return {SLOW_GROUPS[g][0]: now - a.taken_at for g, a in self._answers.items()}
