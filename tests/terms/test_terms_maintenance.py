"""Art. 10(8): regular maintenance hours and notice days, pure."""

from datetime import UTC, date, datetime

import pytest

from controlplane.terms.calendar import SEOUL
from controlplane.terms.errors import PolicyInvalid, TermsError
from controlplane.terms.maintenance import (
    check_irregular_window,
    check_regular_notice,
    check_regular_window,
    overran_until,
    regular_notice_at,
)
from controlplane.terms.policy import DEFAULT_POLICY, Policy


def kst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, day, hour, minute, tzinfo=SEOUL)


def test_regular_window_uses_the_policys_hours() -> None:
    late_night = DEFAULT_POLICY.replace(maintenance_from_hour=2, maintenance_until_hour=6)
    check_regular_window(kst(20, 2), kst(20, 6), policy=late_night)
    with pytest.raises(TermsError, match=r"Art\. 10\(8\)-1"):
        check_regular_window(kst(20, 1), kst(20, 3), policy=late_night)


def test_a_regular_window_ending_exactly_at_midnight_of_the_next_day_is_refused() -> None:
    with pytest.raises(TermsError):
        check_regular_window(kst(19, 23), kst(20, 0), policy=DEFAULT_POLICY)


def test_the_notice_goes_out_at_the_start_of_the_seoul_day_seven_days_before() -> None:
    assert regular_notice_at(kst(20, 1), DEFAULT_POLICY) == kst(13, 0)
    check_regular_notice(kst(20, 1), now=kst(13, 23, 59), policy=DEFAULT_POLICY)
    with pytest.raises(TermsError, match="2027-03-21"):
        check_regular_notice(kst(20, 1), now=kst(14, 0), policy=DEFAULT_POLICY)


def test_a_utc_moment_counts_on_its_seoul_day() -> None:
    # 2027-03-12 15:30 UTC is already 03-13 00:30 in Seoul: the notice day of a window on 03-20.
    check_regular_notice(kst(20, 1), now=datetime(2027, 3, 12, 15, 30, tzinfo=UTC), policy=DEFAULT_POLICY)


def test_irregular_window_needs_a_non_blank_reason() -> None:
    with pytest.raises(TermsError, match=r"Art\. 10\(8\)-2"):
        check_irregular_window(kst(3, 14), kst(3, 15), reason="  ")


def test_a_regular_window_overruns_after_seven_an_irregular_one_after_its_end() -> None:
    assert overran_until(regular=True, starts=kst(20, 1), ends=kst(20, 3), policy=DEFAULT_POLICY) == kst(
        20, 7
    )
    assert overran_until(regular=False, starts=kst(20, 1), ends=kst(20, 3), policy=DEFAULT_POLICY) == kst(
        20, 3
    )


def test_maintenance_hours_must_be_a_stretch_of_one_day() -> None:
    with pytest.raises(PolicyInvalid):
        Policy(maintenance_from_hour=7, maintenance_until_hour=3, effective_from=date(2025, 1, 1))
