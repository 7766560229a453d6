"""One versioned policy object holds every number of the map; it round-trips and rejects bad values."""

from datetime import date
from fractions import Fraction

import pytest

from controlplane.terms.errors import PolicyInvalid
from controlplane.terms.policy import DEFAULT_POLICY, Policy


def test_default_policy_holds_the_numbers_of_the_map() -> None:
    p = DEFAULT_POLICY
    assert (
        p.restrict_after_overdue_days,
        p.terminate_after_restriction_days,
        p.max_extension_after_due_days,
    ) == (30, 5, 60)
    assert p.late_fee_rate_monthly == Fraction(15, 1000)
    assert p.vat_rate == Fraction(1, 10)
    assert p.penalty_rate == Fraction(60, 100)
    assert (p.dispute_window_days, p.dispute_answer_days, p.succession_filing_days) == (15, 7, 30)
    assert (p.term_change_notice_days, p.unfavourable_term_change_notice_days) == (7, 30)
    assert (p.sla_threshold_percent, p.outage_min_minutes, p.outage_grace_minutes) == (95, 30, 30)
    assert p.auto_terminate_nonpayment is True


def test_policy_round_trips_through_a_plain_dict() -> None:
    plain = DEFAULT_POLICY.to_dict()
    assert plain["late_fee_rate_monthly"] == "3/200"
    assert plain["effective_from"] == DEFAULT_POLICY.effective_from.isoformat()
    assert Policy.from_dict(plain) == DEFAULT_POLICY


def test_operator_override_changes_only_the_named_numbers() -> None:
    p = Policy.from_dict(
        {
            "version": "acme-2",
            "effective_from": "2027-07-01",
            "restrict_after_overdue_days": 20,
            "vat_rate": "0",
        }
    )
    assert (p.version, p.effective_from) == ("acme-2", date(2027, 7, 1))
    assert p.restrict_after_overdue_days == 20 and p.vat_rate == 0
    assert p.terminate_after_restriction_days == 5


def test_negative_number_is_rejected_naming_the_field() -> None:
    with pytest.raises(PolicyInvalid) as err:
        Policy.from_dict({"dispute_window_days": -1})
    assert err.value.field == "dispute_window_days"


def test_negative_fraction_is_rejected_naming_the_field() -> None:
    with pytest.raises(PolicyInvalid) as err:
        DEFAULT_POLICY.replace(penalty_rate=Fraction(-1, 2))
    assert err.value.field == "penalty_rate"


def test_unknown_field_is_rejected_so_typos_surface() -> None:
    with pytest.raises(PolicyInvalid) as err:
        Policy.from_dict({"restrict_after_overdue_dayz": 10})
    assert err.value.field == "restrict_after_overdue_dayz"


def test_wrong_type_is_rejected_naming_the_field() -> None:
    with pytest.raises(PolicyInvalid) as err:
        Policy.from_dict({"termination_notice_days": "seven"})
    assert err.value.field == "termination_notice_days"
    with pytest.raises(PolicyInvalid) as err:
        Policy.from_dict({"auto_terminate_nonpayment": "yes"})
    assert err.value.field == "auto_terminate_nonpayment"


def test_extension_cap_before_regular_restriction_is_rejected() -> None:
    with pytest.raises(PolicyInvalid) as err:
        Policy.from_dict({"max_extension_after_due_days": 10})
    assert err.value.field == "max_extension_after_due_days"


def test_policy_is_immutable() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_POLICY.vat_rate = Fraction(0)  # type: ignore[misc]
