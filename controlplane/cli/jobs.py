"""`dcloud jobs`: the periodic jobs with their last and next run; `dcloud jobs run NAME [--as-of DATE]`
runs one now, recorded as a (manual) run row like any other.

With `--as-of`, the job sees that Asia/Seoul day (at the current Seoul time of day) as "now": what the
sweep, renewals or invoicing would do on that day. Exit 1 when the run failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from sqlmodel import Session

from controlplane.cli.args import iso_date
from controlplane.cli.settings import settings_from

EXIT_FAILED = 1


def add_parsers(subparsers: Any) -> None:
    top = subparsers.add_parser(
        "jobs",
        help="periodic jobs: last and next run; run one now",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.set_defaults(func=cmd_jobs, action=None)
    subs = top.add_subparsers(dest="action", metavar="ACTION")
    run = subs.add_parser("run", help="run one job now (recorded like any run)")
    run.add_argument("name", help="the job's name, as `dcloud jobs` lists it")
    run.add_argument("--as-of", type=iso_date, help="the Asia/Seoul day the job acts for (default: today)")
    run.set_defaults(func=cmd_jobs)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def cmd_jobs(args: argparse.Namespace) -> int:
    from controlplane.db import make_engine
    from scheduler.registry import REGISTRY, load_job_modules
    from scheduler.runner import effective_specs

    settings = settings_from(args)
    load_job_modules()
    specs = effective_specs(REGISTRY, settings.job_times)
    engine = make_engine(settings.database_url)
    try:
        if args.action == "run":
            return _run(args, engine, settings, {s.name: s for s in specs})
        _list(engine, specs)
        return 0
    finally:
        engine.dispose()


def _list(engine: Any, specs: list[Any]) -> None:
    from controlplane.clock import system_clock
    from controlplane.services.job_runs import last_runs

    now = system_clock()
    with Session(engine) as session:
        last = last_runs(session)
    for spec in specs:
        run = last.get(spec.name)
        _emit(
            {
                "job": spec.name,
                "schedule": spec.trigger.describe(),
                "last_scheduled_for": _iso(run.scheduled_for) if run else None,
                "last_finished_at": _iso(run.finished_at) if run else None,
                "last_outcome": run.outcome if run else None,
                "next_run": _iso(spec.trigger.next_after(now)),
            }
        )


def _run(args: argparse.Namespace, engine: Any, settings: Any, specs: dict[str, Any]) -> int:
    from controlplane.clock import FixedClock, system_clock
    from controlplane.terms.calendar import SEOUL
    from scheduler.registry import JobContext
    from scheduler.runner import run_job, runner_id

    spec = specs.get(args.name)
    if spec is None:
        print(f"dcloud jobs: error: name: no job {args.name!r} (one of {', '.join(specs)})", file=sys.stderr)
        return EXIT_FAILED
    now = system_clock()
    clock: Any = system_clock
    if args.as_of is not None:
        local = now.astimezone(SEOUL)
        clock = FixedClock(datetime.combine(args.as_of, local.timetz()))
    context = JobContext(engine=engine, settings=settings, clock=clock)
    result = run_job(
        spec, context, scheduled_for=now, runner=f"cli:{runner_id()}", manual=True, wall_clock=system_clock
    )
    assert result is not None  # a manual run's firing is the moment it was asked for: never claimed yet
    _emit(
        {
            "job": spec.name,
            "run_id": result.run_id,
            "as_of": clock().isoformat(),
            "outcome": "failed" if result.error else "succeeded",
            "error": result.error,
        }
    )
    return EXIT_FAILED if result.error else 0


def _emit(row: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
