"""When each job fires: the one table of job times (cron fields are Asia/Seoul), overridable per deployment
through DCLOUD_JOB_TIMES, a JSON object `{"job-name": {"cron": {"hour": 3}} | {"seconds": 60}}`.

The times are chosen so deadlines are met even after a late run, because every job acts from its
anchors (due dates, restriction days, window times), never from "now + n".
"""

from __future__ import annotations

import json
from typing import Any

_SEOUL = "Asia/Seoul"

JOB_TIMES: dict[str, dict[str, Any]] = {
    # Art. 31(1): the invoice for M goes out by the 10th of M+1; idempotent, so daily from the 1st to the
    # 10th catches a leader that was down on the 1st.
    "invoicing": {"cron": {"day": "1-10", "hour": 1, "minute": 0, "timezone": _SEOUL}},
    # Art. 33(1), 21(1): the daily sweep (plan, then apply) early in the Seoul morning.
    "enforcement-sweep": {"cron": {"hour": 2, "minute": 0, "timezone": _SEOUL}},
    # Art. 32(2): a plan change's server size reaches the servers at the start of its effective day; five
    # minutes after midnight, so a scheduler clock a little fast never runs it on the day before.
    "plan-changes": {"cron": {"hour": 0, "minute": 5, "timezone": _SEOUL}},
    # Art. 18, 3(2),(3): a term ends at the end of its last day; renew (and announce terms) the next morning.
    "renewal": {"cron": {"hour": 0, "minute": 30, "timezone": _SEOUL}},
    "address-quarantine": {"cron": {"hour": 3, "minute": 0, "timezone": _SEOUL}},
    # Art. 36: the month's availability figures, on the 1st for the month just ended.
    "sla-figures": {"cron": {"day": 1, "hour": 4, "minute": 0, "timezone": _SEOUL}},
    # Art. 35(1), 26(4): deadlines of answers owed, checked in the morning of every working day.
    "case-deadlines": {"cron": {"hour": 9, "minute": 0, "timezone": _SEOUL}},
    "notice-delivery": {"seconds": 60},
    "host-heartbeats": {"seconds": 60},
    # Art. 10(8), 14(2): windows start and end on time to the minute.
    "maintenance-windows": {"seconds": 60},
    # An image import whose API process stopped is failed once it is past any live import's deadline.
    "image-imports": {"seconds": 600},
}


class JobTimesInvalid(ValueError):
    """DCLOUD_JOB_TIMES names an unknown job or gives a time that is not a cron or an interval."""


def job_times(overrides: str | None = None) -> dict[str, dict[str, Any]]:
    """The defaults with a deployment's overrides applied (unknown job names are refused)."""
    times = {name: dict(spec) for name, spec in JOB_TIMES.items()}
    if not overrides:
        return times
    try:
        parsed = json.loads(overrides)
    except json.JSONDecodeError as exc:
        raise JobTimesInvalid(f"DCLOUD_JOB_TIMES is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise JobTimesInvalid("DCLOUD_JOB_TIMES must be a JSON object")
    for name, spec in parsed.items():
        if name not in times:
            raise JobTimesInvalid(f"DCLOUD_JOB_TIMES: no job named {name!r}")
        if not isinstance(spec, dict) or not (set(spec) <= {"cron", "seconds", "minutes", "hours"}):
            raise JobTimesInvalid(f"DCLOUD_JOB_TIMES: {name!r} needs cron or seconds/minutes/hours")
        times[name] = spec
    return times
