"""The job registry: other modules register their periodic jobs here; the leader's scheduler runs them.

A job module registers at import time, with its time from `scheduler.schedule.JOB_TIMES`:

    from scheduler.registry import JobContext, register_job

    @register_job("enforcement-sweep", **JOB_TIMES["enforcement-sweep"])
    def enforcement_sweep(ctx: JobContext) -> None: ...

and is listed in `scheduler.jobs.JOB_MODULES` so the scheduler imports it. Cron times are Asia/Seoul.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from controlplane.clock import Clock
from controlplane.config import Settings
from scheduler import jobs
from scheduler.triggers import Every, SeoulCron, Trigger


@dataclass(frozen=True)
class JobContext:
    """What every job gets: the store, the settings, the one clock, and which firing this run is."""

    engine: Engine
    settings: Settings
    clock: Clock
    scheduled_for: datetime | None = None


JobFunc = Callable[[JobContext], None]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunc
    trigger: Trigger

    def with_trigger(self, trigger: Trigger) -> JobSpec:
        return replace(self, trigger=trigger)


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}

    def add(self, spec: JobSpec) -> None:
        if spec.name in self._jobs and self._jobs[spec.name].func is not spec.func:
            raise ValueError(f"a different job is already registered as {spec.name!r}")
        self._jobs[spec.name] = spec

    def specs(self) -> list[JobSpec]:
        return sorted(self._jobs.values(), key=lambda s: s.name)

    def get(self, name: str) -> JobSpec | None:
        return self._jobs.get(name)


REGISTRY = JobRegistry()


def trigger_of(cron: dict[str, Any] | None, interval: dict[str, float]) -> Trigger:
    """`cron={...}` (Seoul) or interval keywords (seconds=, minutes=, hours=), exactly one of them."""
    if (cron is None) == (not interval):
        raise ValueError("give either interval keywords (seconds=, minutes=, hours=) or cron=")
    if cron is not None:
        return SeoulCron(cron)
    seconds = interval.get("seconds", 0) + 60 * interval.get("minutes", 0) + 3600 * interval.get("hours", 0)
    if seconds <= 0 or set(interval) - {"seconds", "minutes", "hours"}:
        raise ValueError(f"bad interval {interval!r}")
    return Every(seconds)


def register_job(
    name: str, *, cron: dict[str, Any] | None = None, registry: JobRegistry | None = None, **interval: float
) -> Callable[[JobFunc], JobFunc]:
    """Decorator: `@register_job("x", minutes=5)` (interval) or `@register_job("x", cron={"hour": 1})`."""
    trigger = trigger_of(cron, interval)

    def add(func: JobFunc) -> JobFunc:
        (registry or REGISTRY).add(JobSpec(name=name, func=func, trigger=trigger))
        return func

    return add


class JobModuleMissing(ImportError):
    """A module listed in JOB_MODULES cannot be imported: the scheduler would run without its jobs."""


def load_job_modules(modules: Iterable[str] | None = None) -> None:
    """Imports every job module (default `scheduler.jobs.JOB_MODULES`); a missing one raises."""
    for module in jobs.JOB_MODULES if modules is None else modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise  # the module exists but one of its imports is broken: that error says more
            raise JobModuleMissing(f"job module {module!r} is listed but missing", name=module) from exc
