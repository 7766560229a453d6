"""Art. 30(2)-3: the annual prepayment of a term, its invoice line, and which month's invoice carries it."""

from datetime import date

import pytest

from controlplane.terms.calendar import YearMonth
from controlplane.terms.errors import TermsError
from controlplane.terms.prepayment import annual_prepayment, prepayment_line, term_starting_in
from controlplane.terms.renewal import Term


def test_prepayment_is_12_discounted_monthly_fees_minus_the_annual_discount() -> None:
    # 12 x (100,000 - 10,000) = 1,080,000; minus the agreed annual discount 108,000 = 972,000
    p = annual_prepayment(100_000, 10_000, 108_000, date(2027, 1, 1), date(2027, 12, 31))
    assert p.amount == 972_000
    assert (p.months, str(p.clause)) == (12, "Art. 30(2)-3")


def test_prepayment_without_any_discount_is_twelve_monthly_fees() -> None:
    assert annual_prepayment(123_457, 0, 0, date(2027, 3, 15), date(2028, 3, 14)).amount == 1_481_484


def test_prepayment_line_covers_the_term_and_is_taxable() -> None:
    p = annual_prepayment(100_000, 0, 100_000, date(2027, 3, 15), date(2028, 3, 14))
    line = prepayment_line(p, "std-2")
    assert (line.amount, line.first, line.last, line.taxable) == (1_100_000, p.first, p.last, True)
    assert str(line.clause) == "Art. 30(2)-3"
    assert "12 x (100,000 - 0) - 100,000" in line.description


@pytest.mark.parametrize(
    ("monthly", "discount", "annual", "field"),
    [
        (100_000, 0, 1_200_001, "annual_prepay_discount"),
        (100_000, 0, -1, "annual_prepay_discount"),
        (100_000, 100_001, 0, "discount"),
        (-1, 0, 0, "monthly_fee"),
    ],
)
def test_prepayment_rejects_impossible_discounts(
    monthly: int, discount: int, annual: int, field: str
) -> None:
    with pytest.raises(TermsError) as caught:
        annual_prepayment(monthly, discount, annual, date(2027, 1, 1), date(2027, 12, 31))
    assert caught.value.field == field


CURRENT = Term(date(2027, 3, 15), date(2028, 3, 14), 12)


def test_the_term_opening_mid_month_is_prepaid_on_its_opening_month() -> None:
    assert term_starting_in(YearMonth(2027, 3), CURRENT, renews=True) == CURRENT


def test_no_term_starts_in_the_eleven_months_after() -> None:
    months = [YearMonth(2027, m) for m in range(4, 13)] + [YearMonth(2028, 1), YearMonth(2028, 2)]
    assert [term_starting_in(m, CURRENT, renews=True) for m in months] == [None] * 11


def test_the_renewed_term_starts_in_the_thirteenth_month() -> None:
    # The renewal job may not have run yet: the next term is the one Art. 18 will make.
    assert term_starting_in(YearMonth(2028, 3), CURRENT, renews=True) == Term(
        date(2028, 3, 15), date(2029, 3, 14), 12
    )


def test_a_contract_ending_with_its_term_has_no_next_term_to_prepay() -> None:
    assert term_starting_in(YearMonth(2028, 3), CURRENT, renews=False) is None
