"""Art. 34: unpaid x 15/1000 x 12 x overdue_days / 365, overdue days from the day after due."""

from datetime import date

import pytest

from controlplane.terms.errors import TermsError
from controlplane.terms.late_fee import late_fee, late_fee_for_days, overdue_days
from controlplane.terms.policy import DEFAULT_POLICY


def test_late_fee_on_100000_won_for_31_days_is_1528_won() -> None:
    # due 2027-01-31, paid 2027-03-03: Feb 1..28 (28) + Mar 1..3 (3) = 31 days
    # 100,000 x 0.015 x 12 x 31 / 365 = 558,000 / 365 = 1,528.77 -> 1,528
    fee = late_fee(100_000, date(2027, 1, 31), date(2027, 3, 3), policy=DEFAULT_POLICY)
    assert (fee.overdue_days, fee.amount, str(fee.clause)) == (31, 1_528, "Art. 34")


def test_paying_on_the_due_date_costs_no_late_fee() -> None:
    assert late_fee(100_000, date(2027, 4, 30), date(2027, 4, 30), policy=DEFAULT_POLICY).amount == 0


def test_overdue_days_count_from_the_day_after_the_due_date() -> None:
    assert overdue_days(date(2027, 4, 30), date(2027, 5, 1)) == 1
    # 100,000 x 0.18 x 1 / 365 = 49.32 -> 49
    assert late_fee(100_000, date(2027, 4, 30), date(2027, 5, 1), policy=DEFAULT_POLICY).amount == 49


def test_due_date_on_a_sunday_is_not_moved_to_monday() -> None:
    # 2027-02-28 is a Sunday; paying Monday 2027-03-01 is one day late.
    fee = late_fee(100_000, date(2027, 2, 28), date(2027, 3, 1), policy=DEFAULT_POLICY)
    assert (fee.overdue_days, fee.amount) == (1, 49)


def test_late_fee_over_leap_february_counts_29_days() -> None:
    # due 2028-01-31, paid 2028-02-29: 29 days; 1,000,000 x 0.18 x 29 / 365 = 14,301.37 -> 14,301
    fee = late_fee(1_000_000, date(2028, 1, 31), date(2028, 2, 29), policy=DEFAULT_POLICY)
    assert (fee.overdue_days, fee.amount) == (29, 14_301)


def test_operator_rate_override_is_used() -> None:
    policy = DEFAULT_POLICY.replace(late_fee_rate_monthly=DEFAULT_POLICY.late_fee_rate_monthly * 2)
    # 100,000 x 0.03 x 12 x 31 / 365 = 3,057.53 -> 3,057
    assert late_fee_for_days(100_000, 31, policy) == 3_057


def test_negative_unpaid_is_rejected() -> None:
    with pytest.raises(TermsError) as err:
        late_fee_for_days(-1, 3, policy=DEFAULT_POLICY)
    assert err.value.field == "unpaid"
