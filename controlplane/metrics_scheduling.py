"""Scheduler and maintenance-window families of the control plane's /metrics.

Run counts and last successes come from the `job_runs` rows, so every replica reports the same numbers;
only `dcloud_scheduler_leader` is this process's own (1 on the instance that leads, 0 elsewhere).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlmodel import Session

from controlplane.models.maintenance import WindowState
from controlplane.services.fleet.maintenance_windows import overrun_windows, windows_by_state
from controlplane.services.job_runs import last_successes, run_counts

_LEADER_LOCK = threading.Lock()
_LEADER: dict[str, bool] = {}


def record_scheduler_leader(instance: str, leading: bool) -> None:
    """The scheduler says, at each check, whether this instance leads."""
    with _LEADER_LOCK:
        _LEADER[instance] = leading


def scheduling_families(session: Session, now: datetime) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "dcloud_job_runs", "Job runs recorded, by job and outcome", labels=["job", "outcome"]
    )
    failures = CounterMetricFamily("dcloud_job_failures", "Job runs that failed, by job", labels=["job"])
    failed: dict[str, int] = {}
    for job, outcome, count in run_counts(session):
        runs.add_metric([job, outcome], float(count))
        failed[job] = failed.get(job, 0) + (count if outcome == "failed" else 0)
    for job, count in failed.items():
        failures.add_metric([job], float(count))
    yield runs
    yield failures
    success = GaugeMetricFamily(
        "dcloud_job_last_success_timestamp_seconds",
        "When each job last finished successfully",
        labels=["job"],
    )
    period = GaugeMetricFamily("dcloud_job_period_seconds", "Each job's nominal period", labels=["job"])
    for job, (at, period_s) in last_successes(session).items():
        success.add_metric([job], at.timestamp())
        period.add_metric([job], float(period_s))
    yield success
    yield period
    leader = GaugeMetricFamily(
        "dcloud_scheduler_leader", "1 when this instance leads the scheduler, else 0", labels=["instance"]
    )
    with _LEADER_LOCK:
        for instance, leading in sorted(_LEADER.items()):
            leader.add_metric([instance], 1.0 if leading else 0.0)
    yield leader
    windows = GaugeMetricFamily(
        "dcloud_maintenance_windows", "Maintenance windows by state (Art. 10(8))", labels=["state"]
    )
    counts = windows_by_state(session)
    for state in WindowState:
        windows.add_metric([state.value], float(counts.get(state.value, 0)))
    yield windows
    overrun = GaugeMetricFamily(
        "dcloud_maintenance_windows_overrun",
        "Windows still in progress past their end (a regular one past 07:00 Seoul, Art. 10(8)-1)",
    )
    overrun.add_metric([], float(len(overrun_windows(session, now))))
    yield overrun
