"""Property tests of the money rules (hypothesis)."""

from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.terms.availability import Outage, sla_credit
from controlplane.terms.calendar import SEOUL, YearMonth, add_days
from controlplane.terms.late_fee import late_fee_for_days
from controlplane.terms.policy import DEFAULT_POLICY
from controlplane.terms.proration import prorate
from controlplane.terms.refund import annual_prepay_refund

fees = st.integers(min_value=0, max_value=10_000_000)
months = st.builds(YearMonth, st.integers(2024, 2032), st.integers(1, 12))
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31))


@given(fees, months)
def test_proration_of_a_whole_month_equals_the_monthly_fee(fee: int, month: YearMonth) -> None:
    assert prorate(fee, month.first_day, month.last_day).amount == fee


@given(fees, months, st.integers(1, 24))
def test_proration_of_whole_months_is_the_fee_times_the_months(fee: int, month: YearMonth, n: int) -> None:
    last = month
    for _ in range(n - 1):
        last = last.next()
    assert prorate(fee, month.first_day, last.last_day).amount == fee * n


@given(fees, days, st.integers(0, 400), st.integers(0, 400))
def test_proration_is_additive_within_one_won(fee: int, first: date, a: int, b: int) -> None:
    middle, last = add_days(first, a), add_days(first, a + b + 1)
    whole = prorate(fee, first, last).amount
    parts = prorate(fee, first, middle).amount + prorate(fee, add_days(middle, 1), last).amount
    assert parts <= whole <= parts + 1


@st.composite
def outages(draw: st.DrawFn, month: YearMonth) -> Outage:
    start = datetime(month.year, month.month, 1, tzinfo=SEOUL) + timedelta(
        minutes=draw(st.integers(-2_000, month.days * 1440))
    )
    noticed = start + timedelta(minutes=draw(st.integers(0, 300)))
    resolved = start + timedelta(minutes=draw(st.integers(0, 20_000)))
    return Outage(start, noticed, resolved)


@settings(max_examples=150)
@given(fees, st.data())
def test_sla_credit_never_exceeds_the_monthly_fee(fee: int, data: st.DataObject) -> None:
    month = data.draw(months)
    credit = sla_credit(fee, month, data.draw(st.lists(outages(month), max_size=8)), policy=DEFAULT_POLICY)
    assert 0 <= credit.amount <= fee
    assert 0 <= credit.availability_percent <= 100
    assert (credit.availability_percent < 95) == (credit.threshold_crossed_at is not None)


@given(
    st.integers(0, 100_000_000),
    st.integers(0, 10_000_000),
    days,
    st.integers(0, 800),
    st.integers(0, 10_000_000),
)
def test_refund_is_never_negative(prepaid: int, discount: int, start: date, used: int, penalty: int) -> None:
    refund = annual_prepay_refund(prepaid, discount, start, add_days(start, used), penalty)
    assert 0 <= refund.amount <= prepaid


@given(st.integers(0, 100_000_000), st.integers(0, 3_000))
def test_late_fee_is_monotone_in_overdue_days(unpaid: int, n: int) -> None:
    assert late_fee_for_days(unpaid, n, policy=DEFAULT_POLICY) <= late_fee_for_days(
        unpaid, n + 1, policy=DEFAULT_POLICY
    )
    assert late_fee_for_days(unpaid, 0, policy=DEFAULT_POLICY) == 0


@given(st.integers(0, 100_000_000), st.integers(0, 3_000))
def test_late_fee_is_monotone_in_the_unpaid_amount(unpaid: int, n: int) -> None:
    assert late_fee_for_days(unpaid, n, policy=DEFAULT_POLICY) <= late_fee_for_days(
        unpaid + 1, n, policy=DEFAULT_POLICY
    )
