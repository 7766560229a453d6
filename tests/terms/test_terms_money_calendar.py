"""Money is floored once; dates are Seoul calendar days; month arithmetic clamps at month ends."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest

from controlplane.terms.calendar import (
    YearMonth,
    add_months,
    days_in_month,
    last_day_of_month,
    seoul_date,
    split_by_month,
    term_end,
)
from controlplane.terms.clauses import Clause
from controlplane.terms.money import floor_won, format_won


def test_floor_won_drops_the_fraction_of_a_won_and_never_rounds_up() -> None:
    assert floor_won(Fraction(558000, 365)) == 1528  # 1528.767...
    assert floor_won(Decimal("999.999")) == 999
    assert floor_won(7) == 7


def test_flooring_once_differs_from_flooring_each_part() -> None:
    # Two thirds of a won, twice: floored once at the end is 1, floored per part would be 0.
    parts = [Fraction(2, 3), Fraction(2, 3)]
    assert floor_won(sum(parts)) == 1
    assert sum(floor_won(p) for p in parts) == 0


def test_format_won_groups_thousands() -> None:
    assert format_won(1234567) == "1,234,567 KRW"


def test_an_event_at_2330_utc_belongs_to_the_next_seoul_day() -> None:
    # 2027-03-31 23:30 UTC = 2027-04-01 08:30 KST (+9h).
    assert seoul_date(datetime(2027, 3, 31, 23, 30, tzinfo=UTC)) == date(2027, 4, 1)


def test_seoul_midnight_is_1500_utc_of_the_previous_day() -> None:
    assert seoul_date(datetime(2027, 4, 1, 14, 59, 59, tzinfo=UTC)) == date(2027, 4, 1)
    assert seoul_date(datetime(2027, 4, 1, 15, 0, tzinfo=UTC)) == date(2027, 4, 2)


def test_seoul_date_honours_any_offset() -> None:
    new_york = timezone(timedelta(hours=-5))
    # 2027-01-10 20:00 -05:00 = 2027-01-11 01:00 UTC = 2027-01-11 10:00 KST.
    assert seoul_date(datetime(2027, 1, 10, 20, 0, tzinfo=new_york)) == date(2027, 1, 11)


def test_seoul_date_rejects_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        seoul_date(datetime(2027, 1, 1, 12, 0))


def test_february_2028_has_29_days_and_2027_has_28() -> None:
    assert days_in_month(2028, 2) == 29
    assert days_in_month(2027, 2) == 28
    assert last_day_of_month(date(2028, 2, 3)) == date(2028, 2, 29)


def test_adding_a_month_to_the_31st_clamps_to_the_month_end() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2027, 12, 15), 2) == date(2028, 2, 15)
    assert add_months(date(2027, 3, 31), -1) == date(2027, 2, 28)


def test_term_opened_on_the_31st_ends_the_day_before_the_corresponding_day() -> None:
    # 2027-01-31 + 12 months -> 2028-01-31 exists, so the term ends 2028-01-30.
    assert term_end(date(2027, 1, 31), 12) == date(2028, 1, 30)
    # One month from 2027-01-31: February has no 31st, so it ends on Feb's last day (Civil Act 160(3)).
    assert term_end(date(2027, 1, 31), 1) == date(2027, 2, 28)


def test_term_opened_on_29_february_ends_on_the_last_day_of_february() -> None:
    assert term_end(date(2028, 2, 29), 12) == date(2029, 2, 28)


def test_split_by_month_cuts_at_month_ends_including_leap_february() -> None:
    spans = split_by_month(date(2028, 1, 30), date(2028, 3, 2))
    assert [(str(s.month), s.days, s.month.days) for s in spans] == [
        ("2028-01", 2, 31),
        ("2028-02", 29, 29),
        ("2028-03", 2, 31),
    ]
    assert spans[1].whole_month and not spans[0].whole_month


def test_year_month_parses_and_steps_across_years() -> None:
    month = YearMonth.parse("2027-12")
    assert month.next() == YearMonth(2028, 1)
    assert month.previous() == YearMonth(2027, 11)
    assert str(month) == "2027-12"
    with pytest.raises(ValueError):
        YearMonth.parse("2027-13")
    with pytest.raises(ValueError):
        YearMonth.parse("27-1")


def test_clause_rejects_a_malformed_citation() -> None:
    assert str(Clause("Art. 16(4)-3")) == "Art. 16(4)-3"
    with pytest.raises(ValueError):
        Clause("Article 33")
