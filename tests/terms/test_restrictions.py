"""Art. 16(4),(5), 21(4): restriction length and the cure period before termination may follow."""

from datetime import date

import pytest

from controlplane.terms.errors import TermsError
from controlplane.terms.restrictions import check_restriction_period, cure_deadline, decide_cure


def test_restriction_lasts_at_most_one_month() -> None:
    assert str(check_restriction_period(date(2027, 1, 31), date(2027, 2, 28))) == "Art. 16(4)"
    with pytest.raises(TermsError) as err:
        check_restriction_period(date(2027, 1, 31), date(2027, 3, 1))
    assert err.value.field == "planned_end"


def test_cure_deadline_is_one_month_after_the_restriction_period() -> None:
    assert cure_deadline(date(2027, 3, 15)) == date(2027, 4, 15)


def test_uncured_restriction_is_eligible_for_termination_only_after_the_cure_deadline() -> None:
    end = date(2027, 3, 15)
    assert not decide_cure(end, date(2027, 4, 15), cured=False).eligible_for_termination
    decision = decide_cure(end, date(2027, 4, 16), cured=False)
    assert decision.eligible_for_termination and str(decision.clause) == "Art. 21(4)"
    assert not decide_cure(end, date(2027, 5, 1), cured=True).eligible_for_termination
