"""Maintenance windows (Art. 10(8), 14(2),(3)): hosts they cover and what became of each server."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class WindowKind(StrEnum):
    REGULAR = "regular"  # Art. 10(8)-1: inside 00:00-07:00 Seoul, announced days ahead
    IRREGULAR = "irregular"  # Art. 10(8)-2: when needed, announced at once


class WindowAction(StrEnum):
    NONE = "none"
    DRAIN = "drain"  # no new placements on the hosts during the window
    SUSPEND_AND_RESUME = "suspend-and-resume"  # managed save at the start, restore at the end


class WindowState(StrEnum):
    SCHEDULED = "scheduled"
    NOTIFIED = "notified"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OPEN_STATES = (WindowState.SCHEDULED, WindowState.NOTIFIED, WindowState.IN_PROGRESS)


class ServerOutcome(StrEnum):
    PENDING = "pending"  # ordered saved, the agent has not reported it yet
    SAVED = "saved"
    RESTORED = "restored"
    FAILED = "failed"
    LEFT_SUSPENDED = "left_suspended"  # a restriction began meanwhile: only lifting it resumes (Art. 16(5))


class MaintenanceWindow(SQLModel, table=True):
    __tablename__ = "maintenance_windows"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    action: str = Field(max_length=24)
    state: str = Field(default=WindowState.SCHEDULED, max_length=16, index=True)
    reason: str | None = Field(default=None, max_length=400)
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Bumped by every time change: each revision is announced once (the notices' dedupe keys carry it).
    revision: int = 1
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    notified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class MaintenanceWindowHost(SQLModel, table=True):
    __tablename__ = "maintenance_window_hosts"
    __table_args__ = (UniqueConstraint("window_id", "host_id"),)

    id: int | None = Field(default=None, primary_key=True)
    window_id: int = Field(foreign_key="maintenance_windows.id", index=True)
    host_id: int = Field(foreign_key="hosts.id", index=True)


class MaintenanceServerRecord(SQLModel, table=True):
    """One server a suspend-and-resume window saved, and how its save and restore went."""

    __tablename__ = "maintenance_server_records"
    __table_args__ = (UniqueConstraint("window_id", "server_id"),)

    id: int | None = Field(default=None, primary_key=True)
    window_id: int = Field(foreign_key="maintenance_windows.id", index=True)
    server_id: str = Field(foreign_key="servers.id", max_length=32)
    outcome: str = Field(default=ServerOutcome.PENDING, max_length=16)
    detail: str | None = Field(default=None, max_length=1000)
    saved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    restored_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
