"""Schemas of maintenance windows (Art. 10(8), 14)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from controlplane.models.maintenance import WindowAction, WindowKind, WindowState
from controlplane.schemas.types import Key, Moment, Text


class WindowCreate(BaseModel):
    """`regular`: inside 00:00-07:00 Asia/Seoul on one day, announced days ahead (Art. 10(8)-1);
    `irregular`: any time, with the reason customers are told, announced at once (10(8)-2).
    Times may carry any UTC offset: they are judged in Seoul time."""

    model_config = ConfigDict(extra="forbid")

    kind: WindowKind
    action: WindowAction = WindowAction.NONE
    starts_at: Moment
    ends_at: Moment
    hosts: list[Key] = Field(min_length=1, max_length=64)
    reason: Text | None = Field(default=None, max_length=400)


class WindowReschedule(BaseModel):
    """New times for a window not yet in progress; the affected customers are told again."""

    model_config = ConfigDict(extra="forbid")

    starts_at: Moment
    ends_at: Moment


class WindowCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=400)


class ServerRecordPublic(BaseModel):
    server_id: str
    outcome: str
    detail: str | None
    saved_at: datetime | None
    restored_at: datetime | None


class WindowPublic(BaseModel):
    id: int
    kind: WindowKind
    action: WindowAction
    state: WindowState
    reason: str | None
    starts_at: datetime
    ends_at: datetime
    starts_at_seoul: str
    ends_at_seoul: str
    revision: int
    hosts: list[str]
    created_by: str
    created_at: datetime
    notified_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    servers: list[ServerRecordPublic] = Field(default_factory=list)
