"""The job-run rows: claiming a firing, recording how it ended, and reading the last runs.

A firing is claimed by inserting its (job, scheduled_for) row with `ON CONFLICT DO NOTHING`: exactly one
scheduler's insert lands, whatever each one believes about leadership, so a firing's body runs once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.models.jobs import JobOutcome, JobRun
from controlplane.services.inserts import insert_ignoring_conflicts, table_of


def claim_firing(
    engine: Engine,
    *,
    job: str,
    scheduled_for: datetime,
    now: datetime,
    runner: str,
    period_s: int,
    manual: bool = False,
) -> int | None:
    """The new run's id, or None when another scheduler (or an earlier pass) already has this firing."""
    row = {
        "job": job,
        "scheduled_for": scheduled_for,
        "started_at": now,
        "finished_at": None,
        "outcome": JobOutcome.RUNNING.value,
        "error": None,
        "runner": runner[:128],
        "manual": manual,
        "period_s": period_s,
    }
    with session_scope(engine) as session:
        inserted = insert_ignoring_conflicts(
            session, table_of(JobRun), [row], conflict_columns=["job", "scheduled_for"], returning=["id"]
        )
    return int(inserted[0][0]) if inserted else None


def finish_run(engine: Engine, *, run_id: int, now: datetime, error: str | None) -> None:
    outcome = JobOutcome.SUCCEEDED if error is None else JobOutcome.FAILED
    with session_scope(engine) as session:
        session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run_id)
            .values(finished_at=now, outcome=outcome.value, error=error[:1000] if error else None)
        )


def abandon_others_runs(engine: Engine, *, runner: str, now: datetime) -> int:
    """A new leader marks runs still `running` under another runner abandoned: that runner died or lost
    leadership. The firing is not run again (it was claimed); the job's next firing repairs from anchors."""
    with session_scope(engine) as session:
        result = session.execute(
            update(JobRun)
            .where(col(JobRun.outcome) == JobOutcome.RUNNING.value, col(JobRun.runner) != runner)
            .values(outcome=JobOutcome.ABANDONED.value, finished_at=now, error="runner lost leadership")
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def last_runs(session: Session) -> dict[str, JobRun]:
    """The most recent run (scheduled or manual) of every job that ever ran."""
    latest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(col(JobRun.job)).subquery()
    rows = session.exec(select(JobRun).join(latest, col(JobRun.id) == latest.c.id)).all()
    return {r.job: r for r in rows}


def last_successes(session: Session) -> dict[str, tuple[datetime, int]]:
    """job -> (when its latest successful run finished, its period) for the staleness alert."""
    query = (
        select(JobRun.job, func.max(JobRun.finished_at), func.max(JobRun.period_s))
        .where(JobRun.outcome == JobOutcome.SUCCEEDED.value)
        .group_by(col(JobRun.job))
    )
    return {job: (at, period) for job, at, period in session.execute(query).all() if at is not None}


def run_counts(session: Session) -> list[tuple[str, str, int]]:
    """(job, outcome, runs) for every job and outcome seen."""
    query = select(JobRun.job, JobRun.outcome, func.count()).group_by(col(JobRun.job), col(JobRun.outcome))
    return [(job, outcome, int(n)) for job, outcome, n in session.execute(query).all()]
