"""Asia/Seoul calendar days: every date and day count of the terms. No business-day shifting anywhere."""

from __future__ import annotations

import calendar as _stdlib_calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")


def seoul_date(moment: datetime) -> date:
    """The Seoul calendar day of an aware moment (23:30 UTC is already the next day in Seoul)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime has no Seoul day; pass an aware datetime")
    return moment.astimezone(SEOUL).date()


def seoul_midnight(day: date) -> datetime:
    """The aware moment a Seoul calendar day begins."""
    return datetime(day.year, day.month, day.day, tzinfo=SEOUL)


def days_in_month(year: int, month: int) -> int:
    return _stdlib_calendar.monthrange(year, month)[1]


def last_day_of_month(day: date) -> date:
    return day.replace(day=days_in_month(day.year, day.month))


def add_months(day: date, months: int) -> date:
    """The same day-of-month `months` later, clamped to that month's last day (Jan 31 + 1 -> Feb 28/29)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    return date(year, month0 + 1, min(day.day, days_in_month(year, month0 + 1)))


def add_days(day: date, days: int) -> date:
    return day + timedelta(days=days)


def term_end(start: date, months: int) -> date:
    """Last day of a term of `months` that begins on `start` (both inclusive).

    Civil Act Art. 160: the term ends the day before the corresponding day; where that month has no
    corresponding day (opened on the 31st, or on 29 February), it ends on that month's last day.
    """
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    if start.day > days_in_month(year, month0 + 1):
        return date(year, month0 + 1, days_in_month(year, month0 + 1))
    return date(year, month0 + 1, start.day) - timedelta(days=1)


@dataclass(frozen=True, slots=True, order=True)
class YearMonth:
    """A calendar month, the unit of use and billing (Art. 32(4))."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")

    @classmethod
    def of(cls, day: date) -> YearMonth:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> YearMonth:
        """`YYYY-MM`."""
        year, sep, month = text.partition("-")
        if not sep or len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
            raise ValueError(f"expected YYYY-MM, got {text!r}")
        return cls(int(year), int(month))

    @property
    def days(self) -> int:
        return days_in_month(self.year, self.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    def next(self) -> YearMonth:
        return YearMonth.of(add_months(self.first_day, 1))

    def previous(self) -> YearMonth:
        return YearMonth.of(add_months(self.first_day, -1))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class MonthSpan:
    """The part of a date range that falls in one calendar month: `days` of `month.days`."""

    month: YearMonth
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def whole_month(self) -> bool:
        return self.days == self.month.days


def split_by_month(first: date, last: date) -> list[MonthSpan]:
    """Cuts an inclusive date range at month boundaries; empty when `last` is before `first`."""
    spans: list[MonthSpan] = []
    cursor = first
    while cursor <= last:
        month = YearMonth.of(cursor)
        span_last = min(last, month.last_day)
        spans.append(MonthSpan(month, cursor, span_last))
        cursor = span_last + timedelta(days=1)
    return spans


def days_inclusive(first: date, last: date) -> int:
    """Number of calendar days from `first` through `last`; 0 if `last` is before `first`."""
    return max(0, (last - first).days + 1)
