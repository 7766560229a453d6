"""Maintenance windows (Art. 10(8), 14(2),(3); map section 5).

Regular maintenance runs inside 00:00-07:00 Asia/Seoul on one day and is announced to the affected
customers in advance (Art. 10(8)-1; policy `maintenance_notice_days`, default 7); irregular maintenance
runs when needed and is announced as soon as it is decided (10(8)-2). Times are judged in Seoul time
whatever offset they were given in.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from controlplane.terms.calendar import SEOUL, seoul_date, seoul_midnight
from controlplane.terms.clauses import Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.policy import Policy

ART_10_8_1 = Clause("Art. 10(8)-1")
ART_10_8_2 = Clause("Art. 10(8)-2")
ART_14_3 = Clause("Art. 14(3)")
_MAX_IRREGULAR = timedelta(days=7)


def regular_hours(day: date, policy: Policy) -> tuple[datetime, datetime]:
    """The stretch of `day` (Seoul) regular maintenance may use: 00:00-07:00 by default."""
    start = seoul_midnight(day) + timedelta(hours=policy.maintenance_from_hour)
    return start, seoul_midnight(day) + timedelta(hours=policy.maintenance_until_hour)


def check_window_times(starts: datetime, ends: datetime) -> None:
    for name, moment in (("starts_at", starts), ("ends_at", ends)):
        if moment.utcoffset() is None:
            raise TermsError(f"{name} must carry a time zone", field=name)
    if ends <= starts:
        raise TermsError("ends_at must be after starts_at", field="ends_at")


def check_regular_window(starts: datetime, ends: datetime, *, policy: Policy) -> None:
    """Art. 10(8)-1: start and end inside the regular hours of one Seoul day."""
    check_window_times(starts, ends)
    day = seoul_date(starts)
    first, last = regular_hours(day, policy)
    hours = f"{policy.maintenance_from_hour:02d}:00-{policy.maintenance_until_hour:02d}:00 Asia/Seoul"
    local = f"{starts.astimezone(SEOUL):%Y-%m-%d %H:%M}-{ends.astimezone(SEOUL):%Y-%m-%d %H:%M} Asia/Seoul"
    if starts < first:
        raise TermsError(
            f"regular maintenance starts within {hours} ({ART_10_8_1}); got {local}", field="starts_at"
        )
    if ends > last:
        raise TermsError(
            f"regular maintenance ends within {hours} of the day it starts ({ART_10_8_1}); got {local}",
            field="ends_at",
        )


def check_irregular_window(starts: datetime, ends: datetime, *, reason: str | None) -> None:
    """Art. 10(8)-2: any time when needed, with the reason the customers are told."""
    check_window_times(starts, ends)
    if not reason or not reason.strip():
        raise TermsError(f"irregular maintenance needs a reason ({ART_10_8_2})", field="reason")
    if ends - starts > _MAX_IRREGULAR:
        raise TermsError("an irregular window lasts at most 7 days; split longer work", field="ends_at")


def regular_notice_day(starts: datetime, policy: Policy) -> date:
    """The Seoul day by which a regular window is announced: N days before the day it runs."""
    return seoul_date(starts) - timedelta(days=policy.maintenance_notice_days)


def check_regular_notice(starts: datetime, *, now: datetime, policy: Policy) -> None:
    """A regular window decided today must run no sooner than N days after today (Art. 10(8)-1)."""
    if seoul_date(now) > regular_notice_day(starts, policy):
        earliest = seoul_date(now) + timedelta(days=policy.maintenance_notice_days)
        raise TermsError(
            f"regular maintenance is announced {policy.maintenance_notice_days} days ahead ({ART_10_8_1}); "
            f"the earliest day is {earliest.isoformat()}",
            field="starts_at",
        )


def regular_notice_at(starts: datetime, policy: Policy) -> datetime:
    """When the announcement goes out: the start of the notice day (Seoul)."""
    return seoul_midnight(regular_notice_day(starts, policy))


def overran_until(*, regular: bool, starts: datetime, ends: datetime, policy: Policy) -> datetime:
    """The moment after which a window still in progress has overrun (a regular one: 07:00 Seoul)."""
    if regular:
        return regular_hours(seoul_date(starts), policy)[1]
    return ends


def seoul_text(moment: datetime) -> str:
    return f"{moment.astimezone(SEOUL):%Y-%m-%d %H:%M} (Asia/Seoul)"


__all__ = [
    "ART_10_8_1",
    "ART_10_8_2",
    "ART_14_3",
    "check_irregular_window",
    "check_regular_notice",
    "check_regular_window",
    "overran_until",
    "regular_hours",
    "regular_notice_at",
    "seoul_text",
]
