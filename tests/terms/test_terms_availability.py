"""Art. 36, 37: counted outages, monthly availability and the daily-fee credit below 95%."""

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from controlplane.terms.availability import Exclusion, Outage, earlier_notice, measure, sla_credit
from controlplane.terms.calendar import SEOUL, YearMonth
from controlplane.terms.errors import TermsError
from controlplane.terms.policy import DEFAULT_POLICY

APRIL = YearMonth(2027, 4)  # 30 days = 43,200 minutes; 5% = 2,160 minutes


def kst(day: int, hour: int = 0, minute: int = 0, month: int = 4) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=SEOUL)


def outage(start: datetime, end: datetime, noticed: datetime | None = None, **kw: object) -> Outage:
    return Outage(start, noticed or start, end, **kw)  # type: ignore[arg-type]


def test_outage_shorter_than_30_minutes_is_not_counted() -> None:
    assert measure(outage(kst(5, 10), kst(5, 10, 29)), APRIL, policy=DEFAULT_POLICY).counted is False


def test_outage_is_measured_from_30_minutes_after_notice() -> None:
    # unusable 10:00..11:00, noticed 10:10 -> counted 10:40..11:00 = 20 minutes
    m = measure(outage(kst(5, 10), kst(5, 11), noticed=kst(5, 10, 10)), APRIL, policy=DEFAULT_POLICY)
    assert (m.counted_from, m.counted_to) == (kst(5, 10, 40), kst(5, 11))
    assert sla_credit(300_000, APRIL, [m.outage], policy=DEFAULT_POLICY).counted_minutes == 20


def test_notice_is_the_earlier_of_report_and_awareness() -> None:
    assert earlier_notice(kst(5, 10, 20), kst(5, 10, 5)) == kst(5, 10, 5)
    assert earlier_notice(None, kst(5, 10, 5)) == kst(5, 10, 5)


def test_outages_not_the_company_fault_or_excluded_never_count() -> None:
    long = (kst(5, 0), kst(8, 0))
    assert not measure(outage(*long, company_fault=False), APRIL, policy=DEFAULT_POLICY).counted
    for reason in Exclusion:
        assert not measure(outage(*long, excluded=reason), APRIL, policy=DEFAULT_POLICY).counted


def test_availability_exactly_95_percent_earns_no_credit() -> None:
    # counted Apr 1 00:30 .. Apr 2 12:30 = 36 h = 2,160 minutes = exactly 5% -> 95.0%
    credit = sla_credit(300_000, APRIL, [outage(kst(1, 0), kst(2, 12, 30))], policy=DEFAULT_POLICY)
    assert credit.availability_percent == 95
    assert (credit.amount, credit.credited_days) == (0, ())


def test_below_95_percent_each_day_with_outage_after_the_crossing_earns_one_daily_fee() -> None:
    # outage A counted Apr 10 00:30 .. Apr 12 00:00 = 2,850 min; 5% crossed at 00:30 + 2,160 min =
    # Apr 11 12:30. Outage B Apr 20 10:30..12:00 = 90 min. Days after crossing: Apr 11, Apr 20.
    # daily fee 300,000 / 30 = 10,000 -> 20,000. availability 100 x (1 - 2,940/43,200) = 93.19%
    credit = sla_credit(
        300_000,
        APRIL,
        [outage(kst(10, 0), kst(12, 0)), outage(kst(20, 10), kst(20, 12))],
        policy=DEFAULT_POLICY,
    )
    assert credit.threshold_crossed_at == kst(11, 12, 30)
    assert credit.credited_days == (date(2027, 4, 11), date(2027, 4, 20))
    assert credit.amount == 20_000
    assert credit.availability_percent == 100 * (1 - Fraction(2_940, 43_200))
    assert str(credit.clause) == "Art. 36(3)"


def test_credited_day_is_the_seoul_day_not_the_utc_day() -> None:
    # A: counted Apr 1 00:30 .. Apr 2 12:30 KST = 2,160 min exactly (not yet exceeding 5%).
    # B: 2027-04-10 23:00Z..2027-04-11 00:30Z, counted from 23:30Z (= Apr 11 08:30 KST): 60 min.
    # The crossing is 23:30 UTC on Apr 10, which is Apr 11 in Seoul -> one daily fee for Apr 11.
    b = Outage(
        datetime(2027, 4, 10, 23, 0, tzinfo=UTC),
        datetime(2027, 4, 10, 23, 0, tzinfo=UTC),
        datetime(2027, 4, 11, 0, 30, tzinfo=UTC),
    )
    credit = sla_credit(300_000, APRIL, [outage(kst(1, 0), kst(2, 12, 30)), b], policy=DEFAULT_POLICY)
    assert credit.credited_days == (date(2027, 4, 11),)
    assert credit.amount == 10_000


def test_outage_crossing_into_the_month_counts_only_its_part_in_the_month() -> None:
    # Mar 31 20:00 .. Apr 1 02:00 KST: April's share is 00:00..02:00 = 120 minutes
    o = outage(kst(31, 20, month=3), kst(1, 2))
    assert sla_credit(300_000, APRIL, [o], policy=DEFAULT_POLICY).counted_minutes == 120


def test_overlapping_outages_are_not_counted_twice() -> None:
    # counted 10:30..12:00 and 11:30..13:00 -> merged 10:30..13:00 = 150 minutes
    both = [outage(kst(5, 10), kst(5, 12)), outage(kst(5, 11), kst(5, 13))]
    assert sla_credit(300_000, APRIL, both, policy=DEFAULT_POLICY).counted_minutes == 150


def test_whole_month_down_credits_every_day_after_the_crossing_never_above_the_fee() -> None:
    # counted Apr 1 00:30 .. May 1 00:00; crossing Apr 2 12:30 -> Apr 2..30 = 29 days x 10,000
    credit = sla_credit(300_000, APRIL, [outage(kst(1, 0), kst(1, 0, month=5))], policy=DEFAULT_POLICY)
    assert credit.amount == 290_000 and len(credit.credited_days) == 29
    assert credit.amount <= 300_000


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2027, 4, 5, 10, 0)
    with pytest.raises(TermsError):
        measure(Outage(naive, naive, naive + timedelta(hours=1)), APRIL, policy=DEFAULT_POLICY)
