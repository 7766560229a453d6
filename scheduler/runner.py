"""The scheduler every control plane runs: one check loop; only the leader's checks run job bodies.

Each check (every `scheduler_check_interval_s`): if this process leads, every job whose latest fire time
(`Trigger.latest`) has no run row yet is claimed and run. That one rule gives all three guarantees:
- a firing runs once: the claim is a unique insert, so even two schedulers that both think they lead
  (a split brain, a lock lost mid-check) produce one run per firing;
- after downtime a job catches up once: only the latest missed firing is due, not each missed one;
- a follower takes over within one check interval: its next `is_leader()` takes the freed lock.
A non-leader's check logs nothing per job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from dataclasses import dataclass, replace
from datetime import datetime

from controlplane.clock import Clock
from controlplane.metrics import record_scheduler_leader
from controlplane.services.job_runs import abandon_others_runs, claim_firing, finish_run
from scheduler.leader import LeaderElector
from scheduler.registry import REGISTRY, JobContext, JobRegistry, JobSpec, load_job_modules, trigger_of
from scheduler.schedule import job_times

log = logging.getLogger(__name__)


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class RunResult:
    job: str
    scheduled_for: datetime
    run_id: int
    error: str | None


def run_job(
    spec: JobSpec,
    context: JobContext,
    *,
    scheduled_for: datetime,
    runner: str,
    manual: bool = False,
    wall_clock: Clock | None = None,
) -> RunResult | None:
    """Claims the firing and runs its body; None when the firing was already claimed.

    The row's started/finished times come from `wall_clock` (default: the job's own clock), so a manual
    run `--as-of` another day still records when it really ran."""
    stamp = wall_clock or context.clock
    run_id = claim_firing(
        context.engine,
        job=spec.name,
        scheduled_for=scheduled_for,
        now=stamp(),
        runner=runner,
        period_s=spec.trigger.period_s,
        manual=manual,
    )
    if run_id is None:
        return None
    error: str | None = None
    try:
        spec.func(replace(context, scheduled_for=scheduled_for))
    except Exception as exc:  # one job's failure is recorded and never stops the scheduler
        error = f"{type(exc).__name__}: {exc}"
        log.error("job %s (%s) failed: %s\n%s", spec.name, scheduled_for, error, traceback.format_exc())
    finish_run(context.engine, run_id=run_id, now=stamp(), error=error)
    log.debug("ran job %s, firing %s (run %d)", spec.name, scheduled_for.isoformat(), run_id)
    return RunResult(spec.name, scheduled_for, run_id, error)


def effective_specs(registry: JobRegistry, overrides: str | None) -> list[JobSpec]:
    """The registered jobs, each with its deployment's time where DCLOUD_JOB_TIMES overrides it."""
    if not overrides:
        return registry.specs()
    times = job_times(overrides)
    specs = []
    for spec in registry.specs():
        entry = times.get(spec.name)
        if entry is None:
            specs.append(spec)
            continue
        interval = {k: float(v) for k, v in entry.items() if k != "cron"}
        specs.append(spec.with_trigger(trigger_of(entry.get("cron"), interval)))
    return specs


class Scheduler:
    def __init__(
        self,
        *,
        context: JobContext,
        elector: LeaderElector,
        registry: JobRegistry = REGISTRY,
        check_interval_s: float | None = None,
        runner: str | None = None,
    ) -> None:
        self.context = context
        self.elector = elector
        self.runner = runner or runner_id()
        self.check_interval_s = check_interval_s or context.settings.scheduler_check_interval_s
        self.specs = effective_specs(registry, context.settings.job_times)
        self._leading = False
        # job -> the latest firing known to be claimed, so a steady leader does not query every check.
        self._claimed: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> list[RunResult]:
        """One check: lead or not, and if leading run every due firing (re-checking before each)."""
        leading = self.elector.is_leader()
        record_scheduler_leader(self.runner, leading)
        if not leading:
            self._leading = False
            return []
        if not self._leading:
            self._leading = True
            self._claimed.clear()
            abandoned = abandon_others_runs(self.context.engine, runner=self.runner, now=self.context.clock())
            log.info("%s leads the scheduler (%d stale run(s) marked abandoned)", self.runner, abandoned)
        results = []
        for spec in self.specs:
            fire = spec.trigger.latest(self.context.clock())
            if fire is None or self._claimed.get(spec.name) == fire:
                continue
            if not self.elector.is_leader():  # leadership can go between two jobs
                self._leading = False
                record_scheduler_leader(self.runner, False)
                break
            result = run_job(spec, self.context, scheduled_for=fire, runner=self.runner)
            self._claimed[spec.name] = fire
            if result is not None:
                results.append(result)
        return results

    def run_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # a store outage: try again next interval, as a follower would
                log.exception("scheduler check failed")
                self._leading = False
            stop.wait(self.check_interval_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_until, args=(self._stop,), daemon=True)
        self._thread.start()

    def shutdown(self, *, wait: bool = True) -> None:
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join()
        self.elector.close()
        record_scheduler_leader(self.runner, False)


def build_scheduler(
    *, context: JobContext, elector: LeaderElector, registry: JobRegistry = REGISTRY
) -> Scheduler:
    return Scheduler(context=context, elector=elector, registry=registry)


def run_scheduler(context: JobContext, elector: LeaderElector, stop: threading.Event) -> None:
    """Blocks until `stop` is set (used by `dcloud up` / `serve` in a thread)."""
    load_job_modules()
    scheduler = build_scheduler(context=context, elector=elector)
    log.info("scheduler started with %d job(s)", len(scheduler.specs))
    try:
        scheduler.run_until(stop)
    finally:
        elector.close()
        record_scheduler_leader(scheduler.runner, False)


__all__ = ["RunResult", "Scheduler", "build_scheduler", "run_job", "run_scheduler"]
