"""Art. 32(3), 17(3): early-termination penalty; Art. 20(7): annual-prepay refund."""

from datetime import date
from fractions import Fraction

import pytest

from controlplane.terms.errors import TermsError
from controlplane.terms.penalty import early_termination_penalty, remaining_months
from controlplane.terms.policy import DEFAULT_POLICY
from controlplane.terms.refund import annual_prepay_refund


def test_penalty_is_60_percent_of_average_fee_times_remaining_months() -> None:
    # average (100,000 + 90,000 + 110,000) / 3 = 100,000
    # remaining after 2027-03-15: Mar 16..31 = 16/31, Apr..Dec = 9 -> 295/31 months
    # 0.6 x 100,000 x 295/31 = 17,700,000/31 = 570,967.74 -> 570,967
    p = early_termination_penalty(
        [100_000, 90_000, 110_000], date(2027, 3, 15), date(2027, 12, 31), policy=DEFAULT_POLICY
    )
    assert p.amount == 570_967
    assert p.remaining_months == Fraction(295, 31)
    assert str(p.clause) == "Art. 32(3)"


def test_penalty_averages_only_the_last_3_months() -> None:
    # last 3 of [200,000, 100,000, 100,000, 100,000] average 100,000; Jul..Dec = 6 months
    # 0.6 x 100,000 x 6 = 360,000
    p = early_termination_penalty(
        [200_000, 100_000, 100_000, 100_000], date(2027, 6, 30), date(2027, 12, 31), policy=DEFAULT_POLICY
    )
    assert (p.fees_averaged, p.amount) == ((100_000, 100_000, 100_000), 360_000)


def test_young_contract_averages_fewer_months() -> None:
    # (80,000 + 100,000) / 2 = 90,000; 6 whole months: 0.6 x 90,000 x 6 = 324,000
    p = early_termination_penalty(
        [80_000, 100_000], date(2027, 6, 30), date(2027, 12, 31), policy=DEFAULT_POLICY
    )
    assert p.amount == 324_000


def test_remaining_months_of_a_term_opened_on_the_31st() -> None:
    # term 2027-01-31..2028-01-30, last day of service 2027-01-31:
    # Feb..Dec 2027 = 11 whole months + Jan 1..30 2028 = 30/31 -> 371/31
    assert remaining_months(date(2027, 1, 31), date(2028, 1, 30)) == Fraction(371, 31)
    # 0.6 x 100,000 x 371/31 = 22,260,000/31 = 718,064.5 -> 718,064
    assert (
        early_termination_penalty(
            [100_000], date(2027, 1, 31), date(2028, 1, 30), policy=DEFAULT_POLICY
        ).amount
        == 718_064
    )


def test_remaining_months_count_leap_february_by_29_days() -> None:
    # Feb 15..29 2028 = 15/29, March whole = 1 -> 44/29; 0.6 x 100,000 x 44/29 = 91,034.48 -> 91,034
    p = early_termination_penalty([100_000], date(2028, 2, 14), date(2028, 3, 31), policy=DEFAULT_POLICY)
    assert (p.remaining_months, p.amount) == (Fraction(44, 29), 91_034)


def test_no_penalty_after_refusing_a_fee_increase() -> None:
    p = early_termination_penalty(
        [100_000], date(2027, 3, 15), date(2027, 12, 31), refused_fee_increase=True, policy=DEFAULT_POLICY
    )
    assert p.amount == 0 and str(p.clause) == "Art. 17(3)"


def test_no_penalty_when_terminating_on_the_contract_end() -> None:
    assert (
        early_termination_penalty(
            [100_000], date(2027, 12, 31), date(2027, 12, 31), policy=DEFAULT_POLICY
        ).amount
        == 0
    )


def test_penalty_needs_at_least_one_monthly_fee() -> None:
    with pytest.raises(TermsError) as err:
        early_termination_penalty([], date(2027, 3, 15), date(2027, 12, 31), policy=DEFAULT_POLICY)
    assert err.value.field == "monthly_fees"


def test_refund_deducts_used_period_discount_and_penalty() -> None:
    # monthly rate 1,080,000 / 12 = 90,000; used Jan + Feb + Mar 1..15 (15/31):
    # 180,000 + 43,548.39 = 223,548.39
    # 1,080,000 - 223,548.39 - 120,000 - 100,000 = 636,451.61 -> 636,451
    r = annual_prepay_refund(1_080_000, 120_000, date(2027, 1, 1), date(2027, 3, 15), 100_000)
    assert r.amount == 636_451
    assert r.fee_for_period_used == Fraction(6_930_000, 31)
    assert str(r.clause) == "Art. 20(7)"


def test_refund_prices_partial_months_at_both_ends_by_days() -> None:
    # Jan 16..31 = 16/31 x 90,000 = 46,451.61; Feb 1..15 = 15/28 x 90,000 = 48,214.29 -> 94,665.90
    # 1,080,000 - 94,665.90 - 120,000 = 865,334.10 -> 865,334
    assert annual_prepay_refund(1_080_000, 120_000, date(2027, 1, 16), date(2027, 2, 15)).amount == 865_334


def test_refund_is_never_negative() -> None:
    assert annual_prepay_refund(1_080_000, 120_000, date(2027, 1, 1), date(2027, 11, 30), 500_000).amount == 0


def test_refund_rejects_a_last_day_before_the_start() -> None:
    with pytest.raises(TermsError) as err:
        annual_prepay_refund(1_080_000, 0, date(2027, 3, 1), date(2027, 2, 28))
    assert err.value.field == "terminate_on"


def test_a_first_month_used_for_14_days_counts_its_full_monthly_rate() -> None:
    from controlplane.terms.calendar import YearMonth
    from controlplane.terms.penalty import monthly_rate

    first_day, rates = date(2027, 1, 18), [(date(2027, 1, 18), 90_000)]
    rate = monthly_rate(YearMonth(2027, 1), rates, first_day, date(2027, 1, 31))
    assert rate == 90_000


def test_a_month_with_a_fee_change_averages_its_rates_by_day() -> None:
    from controlplane.terms.calendar import YearMonth
    from controlplane.terms.penalty import monthly_rate

    # April: 10 days at 100,000 then 20 days at 130,000 -> (1,000,000 + 2,600,000) / 30 = 120,000
    rates = [(date(2027, 1, 1), 100_000), (date(2027, 4, 11), 130_000)]
    assert monthly_rate(YearMonth(2027, 4), rates, date(2027, 1, 1), date(2027, 4, 30)) == 120_000
