"""Monthly availability and the SLA credit (Art. 36, 37; map section 6).

Maintenance-window time on the contract's hosts never counts (Art. 14(3)).

An outage counts only if it is the company's fault, not excluded (maintenance, customer-requested work,
Art. 15 / 39) and the service was unusable for 30 minutes or more (36(2)-1). It is measured from
30 minutes after the notice (earlier of report and awareness) until it was resolved (36(2)-2). Below
95%: from the moment the month's counted outage first exceeds 5%, each Seoul calendar day with counted
outage after that moment is credited one daily fee (36(3)); never more than the monthly fee (36(4)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from controlplane.terms.calendar import YearMonth, seoul_date, seoul_midnight
from controlplane.terms.clauses import ART_36_2, ART_36_3, ART_36_4, Clause
from controlplane.terms.errors import TermsError
from controlplane.terms.money import Won, floor_won
from controlplane.terms.policy import Policy

_TICK = timedelta(microseconds=1)


class Exclusion(StrEnum):
    MAINTENANCE = "maintenance"  # Art. 14(2),(3), 10(8)
    CUSTOMER_REQUEST = "customer_request"  # Art. 14(3)
    ART_15 = "art_15"  # exemptions: third-party facilities, carriers, disasters, ...
    ART_39 = "art_39"


@dataclass(frozen=True, slots=True)
class Outage:
    """An incident; `noticed` is the earlier of the customer's report and the company's awareness."""

    started: datetime
    noticed: datetime
    resolved: datetime
    company_fault: bool = True
    excluded: Exclusion | None = None


@dataclass(frozen=True, slots=True)
class MeasuredOutage:
    outage: Outage
    counted: bool
    reason: str
    counted_from: datetime | None = None
    counted_to: datetime | None = None
    # The counted stretches: [counted_from, counted_to) less any maintenance window (Art. 14(3)).
    pieces: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class SlaCredit:
    amount: Won
    clause: Clause
    month: YearMonth
    availability_percent: Fraction
    counted_minutes: Fraction
    month_minutes: int
    threshold_crossed_at: datetime | None
    credited_days: tuple[date, ...]
    daily_fee: Fraction
    capped: bool
    outages: tuple[MeasuredOutage, ...]


def earlier_notice(reported: datetime | None, aware: datetime | None) -> datetime:
    """Art. 36(2)-2: measurement is anchored on whichever came first, the report or the awareness."""
    moments = [m for m in (reported, aware) if m is not None]
    if not moments:
        raise TermsError("an outage needs a report or an awareness time", field="noticed")
    return min(moments)


Span = tuple[datetime, datetime]


def _outside(lo: datetime, hi: datetime, spans: Sequence[Span]) -> tuple[Span, ...]:
    """[lo, hi) less every span: what is left outside the maintenance windows."""
    pieces = [(lo, hi)]
    for s_lo, s_hi in sorted(spans):
        pieces = [
            part
            for p_lo, p_hi in pieces
            for part in ((p_lo, min(p_hi, s_lo)), (max(p_lo, s_hi), p_hi))
            if part[0] < part[1]
        ]
    return tuple(pieces)


def measure(outage: Outage, month: YearMonth, policy: Policy, windows: Sequence[Span] = ()) -> MeasuredOutage:
    """Whether and which part of `outage` counts against `month`.

    Maintenance windows (Art. 14(3), 10(8)) never count: an outage inside one counts nothing, one that
    straddles one counts only its part outside. Whether the outage qualifies at all (30 minutes
    unusable, 36(2)-1) is judged on the whole outage, in the customer's favour."""
    for name in ("started", "noticed", "resolved"):
        if getattr(outage, name).utcoffset() is None:
            raise TermsError(f"{name} must carry a time zone", field=name)
    if outage.resolved < outage.started:
        raise TermsError("resolved must not be before started", field="resolved")
    if not outage.company_fault:
        return MeasuredOutage(outage, False, "not the company's fault (Art. 36(1))")
    if outage.excluded is not None:
        return MeasuredOutage(outage, False, f"excluded: {outage.excluded} (Art. 14(3), 15, 39)")
    if outage.resolved - outage.started < timedelta(minutes=policy.outage_min_minutes):
        return MeasuredOutage(outage, False, f"unusable less than {policy.outage_min_minutes} minutes")
    start = max(outage.started, outage.noticed + timedelta(minutes=policy.outage_grace_minutes))
    start = max(start, seoul_midnight(month.first_day))
    end = min(outage.resolved, seoul_midnight(month.next().first_day))
    if end <= start:
        return MeasuredOutage(outage, False, "nothing left after the grace period within this month")
    pieces = _outside(start, end, windows)
    if not pieces:
        return MeasuredOutage(outage, False, "inside a maintenance window (Art. 14(3))")
    return MeasuredOutage(outage, True, "counted (Art. 36(2))", pieces[0][0], pieces[-1][1], pieces)


def _merged(measured: Sequence[MeasuredOutage]) -> list[tuple[datetime, datetime]]:
    """Counted intervals, overlaps merged so simultaneous incidents are not counted twice."""
    spans = sorted(piece for m in measured if m.counted for piece in m.pieces)
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _minutes(delta: timedelta) -> Fraction:
    return Fraction(delta // _TICK, 60_000_000)


def _days_touched(lo: datetime, hi: datetime) -> set[date]:
    first, last = seoul_date(lo), seoul_date(hi - _TICK)
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def _credited_days(
    intervals: list[tuple[datetime, datetime]], threshold: Fraction
) -> tuple[datetime | None, set[date]]:
    """The moment cumulative outage first exceeds `threshold` minutes and the days with outage after it."""
    total = Fraction(0)
    crossed: datetime | None = None
    days: set[date] = set()
    for lo, hi in intervals:
        length = _minutes(hi - lo)
        if crossed is None and total + length > threshold:
            offset = (threshold - total) * 60_000_000
            crossed = lo + _TICK * int(offset)
            days |= _days_touched(crossed, hi)
        elif crossed is not None:
            days |= _days_touched(lo, hi)
        total += length
    return crossed, days


def sla_credit(
    monthly_fee: Won | Fraction,
    month: YearMonth,
    outages: Sequence[Outage],
    policy: Policy,
    windows: Sequence[Span] = (),
) -> SlaCredit:
    """Availability of `month` and the credit owed for it; `windows` are the maintenance windows on the
    contract's hosts, whose time is never downtime (Art. 14(3))."""
    if monthly_fee < 0:
        raise TermsError("monthly fee must not be negative", field="monthly_fee")
    measured = tuple(measure(o, month, policy, windows) for o in outages)
    intervals = _merged(measured)
    month_minutes = month.days * 24 * 60
    counted = sum((_minutes(hi - lo) for lo, hi in intervals), Fraction(0))
    availability = 100 * (1 - counted / month_minutes)
    threshold = month_minutes * (100 - policy.sla_threshold_percent) / 100
    crossed, days = _credited_days(intervals, threshold)
    daily_fee = Fraction(monthly_fee, month.days)
    uncapped = daily_fee * len(days)
    capped = uncapped > monthly_fee
    amount = floor_won(min(uncapped, Fraction(monthly_fee)))
    clause = ART_36_4 if capped else (ART_36_3 if days else ART_36_2)
    return SlaCredit(
        amount,
        clause,
        month,
        availability,
        counted,
        month_minutes,
        crossed,
        tuple(sorted(days)),
        daily_fee,
        capped,
        measured,
    )
