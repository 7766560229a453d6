"""When a job fires: fire times every scheduler computes alike, so two machines name the same firing.

A firing is identified by its scheduled time (`job_runs.scheduled_for`). Intervals are aligned to the
Unix epoch rather than to when a process started, and cron times are read in Asia/Seoul, so every
replica derives the same instants from the same clock reading.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger as _ApsCron

SEOUL = ZoneInfo("Asia/Seoul")
_TICK = timedelta(microseconds=1)
# How far back a cron job looks for its latest missed firing: enough for a monthly job down a year.
_LOOKBACKS = (timedelta(days=2), timedelta(days=40), timedelta(days=400))


class Trigger(Protocol):
    @property
    def period_s(self) -> int:
        """The nominal period: how late a run may be before the staleness alert fires."""

    def latest(self, now: datetime) -> datetime | None:
        """The last fire time at or before `now` (what a scheduler that was down must catch up on)."""

    def next_after(self, now: datetime) -> datetime | None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Every:
    """Every `seconds`, on multiples of `seconds` since the epoch."""

    seconds: float

    @property
    def period_s(self) -> int:
        return max(1, round(self.seconds))

    def latest(self, now: datetime) -> datetime | None:
        ts = now.timestamp()
        return datetime.fromtimestamp(ts - (ts % self.seconds), UTC)

    def next_after(self, now: datetime) -> datetime | None:
        last = self.latest(now)
        assert last is not None
        return last + timedelta(seconds=self.seconds)

    def describe(self) -> str:
        return f"every {self.seconds:g}s"


class SeoulCron:
    """A cron expression (APScheduler's fields) read in Asia/Seoul."""

    def __init__(self, fields: dict[str, Any]) -> None:
        if "timezone" in fields and str(fields["timezone"]) != "Asia/Seoul":
            raise ValueError("job times are Asia/Seoul times (TERMS-MAP: all dates are Seoul dates)")
        self.fields = {k: v for k, v in fields.items() if k != "timezone"}
        self._cron = _ApsCron(timezone=SEOUL, **self.fields)
        self.period_s = self._longest_gap()

    def next_after(self, now: datetime) -> datetime | None:
        fire = self._cron.get_next_fire_time(None, now + _TICK)
        return fire.astimezone(UTC) if fire is not None else None

    def latest(self, now: datetime) -> datetime | None:
        for back in _LOOKBACKS:
            found: datetime | None = None
            fire = self._cron.get_next_fire_time(None, now - back)
            while fire is not None and fire <= now:
                found = fire
                fire = self._cron.get_next_fire_time(None, fire + _TICK)
            if found is not None:
                return found.astimezone(UTC)
        return None

    def describe(self) -> str:
        return "cron " + " ".join(f"{k}={v}" for k, v in self.fields.items()) + " (Asia/Seoul)"

    def _longest_gap(self) -> int:
        """The nominal period: the longest gap between firings over a year (a 1st-10th job: ~21 days)."""
        start = datetime(2027, 1, 1, tzinfo=SEOUL)
        fires: list[datetime] = []
        fire = self._cron.get_next_fire_time(None, start)
        while fire is not None and len(fires) < 400 and fire < start + timedelta(days=366):
            fires.append(fire)
            fire = self._cron.get_next_fire_time(None, fire + _TICK)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fires)]
        return int(max(gaps)) if gaps else 86400
