"""Job runs as rows: one per (job, scheduled fire time), so a firing runs once whoever believes it leads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class JobOutcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The runner died (or lost leadership) mid-run; the firing is not run again, the next one repairs.
    ABANDONED = "abandoned"


class JobRun(SQLModel, table=True):
    __tablename__ = "job_runs"
    # The claim: inserting this row is what entitles a scheduler to run the firing.
    __table_args__ = (UniqueConstraint("job", "scheduled_for", name="uq_job_runs_job_scheduled_for"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64, index=True)
    scheduled_for: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    outcome: str = Field(default=JobOutcome.RUNNING, max_length=16)
    error: str | None = Field(default=None, max_length=1000)
    runner: str = Field(max_length=128)
    manual: bool = False
    # The job's nominal period when it ran, so an alert can tell "late" from the rows alone.
    period_s: int = 0
