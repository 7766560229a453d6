"""The job registry: other modules register their periodic jobs here; the leader's scheduler runs them.

A job module registers at import time:

    from scheduler.registry import JobContext, register_job

    @register_job("enforcement-sweep", minutes=5)
    def enforcement_sweep(ctx: JobContext) -> None: ...

and is listed in `scheduler.jobs.JOB_MODULES` so the scheduler imports it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from controlplane.clock import Clock
from controlplane.config import Settings
from scheduler import jobs


@dataclass(frozen=True)
class JobContext:
    """What every job gets: the store, the settings and the one clock."""

    engine: Engine
    settings: Settings
    clock: Clock


JobFunc = Callable[[JobContext], None]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunc
    trigger: str  # "interval" or "cron", as APScheduler names them
    trigger_args: dict[str, Any] = field(default_factory=dict)


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}

    def add(self, spec: JobSpec) -> None:
        if spec.name in self._jobs and self._jobs[spec.name].func is not spec.func:
            raise ValueError(f"a different job is already registered as {spec.name!r}")
        self._jobs[spec.name] = spec

    def specs(self) -> list[JobSpec]:
        return sorted(self._jobs.values(), key=lambda s: s.name)


REGISTRY = JobRegistry()


def register_job(
    name: str, *, cron: dict[str, Any] | None = None, registry: JobRegistry | None = None, **interval: float
) -> Callable[[JobFunc], JobFunc]:
    """Decorator: `@register_job("x", minutes=5)` (interval) or `@register_job("x", cron={"hour": 1})`."""
    if (cron is None) == (not interval):
        raise ValueError("give either interval keywords (seconds=, minutes=, hours=) or cron=")

    def add(func: JobFunc) -> JobFunc:
        trigger, args = ("cron", dict(cron)) if cron is not None else ("interval", dict(interval))
        (registry or REGISTRY).add(JobSpec(name=name, func=func, trigger=trigger, trigger_args=args))
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
