"""The simulation's own model of what the terms require, written from TERMS-MAP.md alone.

Nothing here imports the code under test (no `controlplane` module): the numbers are the map's defaults,
dates are Civil Act counting ("N days after E" acts on E+N+1), money is exact Fractions floored once per
formula. The simulation feeds the same events to this model and to the API and compares what each says.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from math import floor

# TERMS-MAP.md's defaults.
VAT = Fraction(1, 10)  # Art. 32(5)
LATE_FEE_PER_DAY = Fraction(15, 1000) * 12 / 365  # Art. 34
RESTRICT_AFTER_DUE = 30  # Art. 33(1): restricted on D+31 at the earliest
TERMINATE_AFTER_RESTRICTION = 5  # Art. 33(1), 21(1): terminated on R+6 at the earliest
MAX_EXTENSION_AFTER_DUE = 60  # an extension moves the restriction day to D+61 at the latest
TERMINATION_NOTICE = 7  # Art. 20(2)
PENALTY_RATE = Fraction(60, 100)  # Art. 32(3)
PENALTY_HISTORY = 3
DISPUTE_WINDOW = 15  # Art. 35(1)
DISPUTE_ANSWER = 7
UPHELD_NOT_BEFORE = 7  # restriction never earlier than 7 days after the answer
SLA_THRESHOLD = Fraction(5, 100)  # Art. 36(3): below 95 %
OUTAGE_MIN = timedelta(minutes=30)  # Art. 36(2)-1
OUTAGE_GRACE = timedelta(minutes=30)  # Art. 36(2)-2


def acts_on(event: date, days: int) -> date:
    """The first day after a period of `days` days running from an event on `event`."""
    return event + timedelta(days=days + 1)


def won(amount: Fraction | int) -> int:
    return floor(amount)


Month = tuple[int, int]


def month_of(day: date) -> Month:
    return (day.year, day.month)


def first_day(m: Month) -> date:
    return date(m[0], m[1], 1)


def days_in(m: Month) -> int:
    return calendar.monthrange(*m)[1]


def last_day(m: Month) -> date:
    return date(m[0], m[1], days_in(m))


def next_month(m: Month) -> Month:
    return (m[0] + 1, 1) if m[1] == 12 else (m[0], m[1] + 1)


def previous_month(m: Month) -> Month:
    return (m[0] - 1, 12) if m[1] == 1 else (m[0], m[1] - 1)


def one_year_on(start: date) -> date:
    """Art. 18: a term of one year from `start` ends the day before the same date a year later."""
    return date(start.year + 1, start.month, start.day) - timedelta(days=1)


@dataclass
class Invoice:
    """What the oracle expects of one invoice (the simulation fills `api_id` once the API shows it)."""

    contract: int
    month: Month
    seq: int  # creation order: ties on due date are broken by it, as invoice ids are
    issued_on: date
    due: date
    supply: int
    vat: int
    late_lines: int  # Art. 34 late fees billed on this invoice (they never bear late fees themselves)
    penalty: int
    credit_used: int
    total: int
    paid: int = 0
    corrected: int = 0  # Art. 35(2) credit notes
    disputed_open: int = 0
    upheld_not_before: date | None = None
    extension: date | None = None
    accrued_exact: Fraction = Fraction(0)  # every late-fee segment so far, exact
    accrued_charged: int = 0  # what those segments charged (floored once in total)
    accrued_through: date | None = None
    api_id: int | None = None

    @property
    def outstanding(self) -> int:
        return max(0, self.total - self.paid)

    @property
    def gross(self) -> int:
        return self.total + self.credit_used + self.corrected

    def principal(self) -> int:
        """The unpaid fee: late fees on it never bear late fees; an open dispute's amount bears none."""
        return max(0, self.total - self.late_lines - self.paid - self.disputed_open)

    def restriction_day(self) -> date:
        day = acts_on(self.due, RESTRICT_AFTER_DUE)
        if self.extension is not None and self.extension > day:
            day = self.extension
        if self.upheld_not_before is not None and self.upheld_not_before > day:
            day = self.upheld_not_before
        return day

    def overdue_for_restriction(self) -> int:
        return max(0, self.total - self.paid - self.disputed_open)


@dataclass
class Termination:
    kind: str  # customer_request, ex_officio, nonpayment
    effective_on: date  # the last day of service
    decided_on: date
    penalty: int
    started_on: date | None = None  # the day the contract became `terminating`


@dataclass
class Contract:
    id: int
    customer: int
    open_date: date
    fee_periods: list[tuple[date, int]]  # (from, monthly rate after the agreed discount)
    term_end: date
    invoices: list[Invoice] = field(default_factory=list)
    unbilled_late: int = 0  # late fees accrued but not yet on an invoice
    restricted_since: date | None = None
    termination: Termination | None = None
    proposal_pending: bool = False
    server_id: str | None = None
    outage_credit_pending: int = 0

    def rate_on(self, day: date) -> int:
        rate = self.fee_periods[0][1]
        for start, r in self.fee_periods:
            if start <= day:
                rate = r
        return rate

    @property
    def service_last_day(self) -> date | None:
        return self.termination.effective_on if self.termination else None

    def ended_before(self, m: Month) -> bool:
        last = self.service_last_day
        return last is not None and last < first_day(m)

    def open_invoices(self) -> list[Invoice]:
        return [i for i in self.invoices if i.paid < i.total]


def prorated(rate: int, first: date, last: date, m: Month) -> int:
    """Art. 32(2),(4): `fee x days_used / days_in_month`, floored."""
    return won(Fraction(rate) * ((last - first).days + 1) / days_in(m))


def plan_amount(c: Contract, m: Month) -> list[int]:
    """One prorated line per fee period overlapping the month (each formula floored on its own)."""
    lines = []
    for k, (start, rate) in enumerate(c.fee_periods):
        end = c.fee_periods[k + 1][0] - timedelta(days=1) if k + 1 < len(c.fee_periods) else None
        if c.service_last_day is not None:
            end = min(end, c.service_last_day) if end is not None else c.service_last_day
        lo = max(start, first_day(m), c.open_date)
        hi = min(end, last_day(m)) if end is not None else last_day(m)
        if lo <= hi:
            lines.append(prorated(rate, lo, hi, m))
    return lines


def vat_on(supply: int) -> int:
    return won(VAT * supply) if supply > 0 else 0


def accrue(inv: Invoice, through: date) -> int:
    """Art. 34 on the unpaid fee for the overdue days after the last accrual, through `through`; the
    invoice's late fees stay floored once in total. Returns what this segment adds."""
    start = max(inv.due, inv.accrued_through or inv.due)
    days = (through - start).days
    if days <= 0:
        return 0
    inv.accrued_through = through  # a day with nothing unpaid (or all of it disputed) bears nothing
    principal = inv.principal()
    if principal <= 0:
        return 0
    inv.accrued_exact += principal * LATE_FEE_PER_DAY * days
    added = max(0, won(inv.accrued_exact) - inv.accrued_charged)
    inv.accrued_charged += added
    return added


def monthly_rate(c: Contract, m: Month) -> Fraction:
    """Art. 32(3): the month's rate, day-weighted when it changed; the opening month at its full rate."""
    if month_of(c.open_date) == m:
        return Fraction(c.rate_on(c.open_date))
    total = sum(c.rate_on(first_day(m) + timedelta(days=n)) for n in range(days_in(m)))
    return Fraction(total, days_in(m))


def remaining_months(after: date, term_end: date) -> Fraction:
    """From the day after `after` through the contract end: whole months 1, partial ones by days."""
    remaining, day = Fraction(0), after + timedelta(days=1)
    while day <= term_end:
        m = month_of(day)
        end = min(last_day(m), term_end)
        remaining += Fraction((end - day).days + 1, days_in(m))
        day = end + timedelta(days=1)
    return remaining


def penalty(c: Contract, last: date) -> int:
    """Art. 32(3): 60 % x average of the last 3 monthly rates before the termination month x months left."""
    if last >= c.term_end:
        return 0
    rates: list[Fraction] = []
    m = previous_month(month_of(last))
    while m >= month_of(c.open_date) and len(rates) < PENALTY_HISTORY:
        rates.insert(0, monthly_rate(c, m))
        m = previous_month(m)
    average = sum(rates, Fraction(0)) / len(rates) if rates else Fraction(c.rate_on(last))
    return won(PENALTY_RATE * average * remaining_months(last, c.term_end))


def sla_credit(rate: int, m: Month, started, noticed, resolved) -> int:  # type: ignore[no-untyped-def]
    """Art. 36: one outage in the month (Seoul-aware datetimes); a daily fee per day with counted outage
    after the counted outage first exceeded 5 % of the month, capped at the monthly fee."""
    if resolved - started < OUTAGE_MIN:
        return 0
    counted_from = max(started, noticed + OUTAGE_GRACE)
    if resolved <= counted_from:
        return 0
    threshold = timedelta(minutes=days_in(m) * 24 * 60) * SLA_THRESHOLD.numerator / SLA_THRESHOLD.denominator
    if resolved - counted_from <= threshold:
        return 0
    crossed = counted_from + threshold
    last = (resolved - timedelta(microseconds=1)).date()
    days = (last - crossed.date()).days + 1
    return won(min(Fraction(rate) * days / days_in(m), Fraction(rate)))
