"""Art. 32(2),(4): fee x days_used / days_in_month, per calendar month, summed exactly, floored once."""

from datetime import date

import pytest

from controlplane.terms.errors import TermsError
from controlplane.terms.proration import prorate


def test_whole_calendar_month_costs_the_monthly_fee() -> None:
    assert prorate(100_000, date(2027, 4, 1), date(2027, 4, 30)).amount == 100_000


def test_partial_31_day_month_is_prorated_by_days() -> None:
    # 2027-03-01..16 = 16 days of 31: 100,000 x 16/31 = 51,612.90 -> 51,612
    result = prorate(100_000, date(2027, 3, 1), date(2027, 3, 16))
    assert result.amount == 51_612
    assert str(result.clause) == "Art. 32(4)"


def test_contract_opened_on_the_31st_pays_one_day_of_31() -> None:
    # 100,000 x 1/31 = 3,225.81 -> 3,225
    assert prorate(100_000, date(2027, 1, 31), date(2027, 1, 31)).amount == 3_225


def test_leap_february_2028_divides_by_29_days() -> None:
    # 2028-02-15..29 = 15 days of 29: 100,000 x 15/29 = 51,724.14 -> 51,724
    assert prorate(100_000, date(2028, 2, 15), date(2028, 2, 29)).amount == 51_724


def test_february_2027_divides_by_28_days() -> None:
    # 2027-02-15..28 = 14 days of 28: 100,000 x 14/28 = 50,000
    assert prorate(100_000, date(2027, 2, 15), date(2027, 2, 28)).amount == 50_000


def test_span_across_months_is_summed_per_month() -> None:
    # Jan 17..31 = 15/31 -> 48,387.10; Feb whole = 100,000; Mar 1..10 = 10/31 -> 32,258.06
    # sum 180,645.16 -> 180,645
    result = prorate(100_000, date(2027, 1, 17), date(2027, 3, 10))
    assert result.amount == 180_645
    assert [(str(m.span.month), m.span.days) for m in result.months] == [
        ("2027-01", 15),
        ("2027-02", 28),
        ("2027-03", 10),
    ]


def test_span_is_floored_once_not_per_month() -> None:
    # fee 100: Jan 16..31 = 100 x 16/31 = 51.61; Feb = 100; Mar 1..16 = 51.61 -> 203.22 -> 203
    # (flooring each month would give 51 + 100 + 51 = 202)
    assert prorate(100, date(2027, 1, 16), date(2027, 3, 16)).amount == 203


def test_last_day_before_first_day_is_rejected() -> None:
    with pytest.raises(TermsError) as err:
        prorate(100_000, date(2027, 3, 2), date(2027, 3, 1))
    assert err.value.field == "last"


def test_negative_fee_is_rejected() -> None:
    with pytest.raises(TermsError) as err:
        prorate(-1, date(2027, 3, 1), date(2027, 3, 1))
    assert err.value.field == "monthly_fee"
