"""Art. 3(2): a terms version is announced 7 days before it applies, 30 if unfavourable (pure checks)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from controlplane.terms.deadlines import check_announcement
from controlplane.terms.errors import PolicyInvalid
from controlplane.terms.policy import DEFAULT_POLICY, Policy

EFFECTIVE = date(2028, 1, 1)


def _version(days_ahead: int, *, unfavourable: bool = False) -> Policy:
    return Policy(
        version="2028-01",
        effective_from=EFFECTIVE,
        announced_on=EFFECTIVE - timedelta(days=days_ahead),
        unfavourable=unfavourable,
    )


def test_announcement_seven_days_ahead_is_enough() -> None:
    check_announcement(_version(7), DEFAULT_POLICY)


def test_announcement_six_days_ahead_is_rejected_naming_announced_on() -> None:
    with pytest.raises(PolicyInvalid) as err:
        check_announcement(_version(6), DEFAULT_POLICY)
    assert err.value.field == "announced_on" and "2027-12-25" in err.value.message


def test_unfavourable_change_needs_thirty_days() -> None:
    check_announcement(_version(30, unfavourable=True), DEFAULT_POLICY)
    with pytest.raises(PolicyInvalid) as err:
        check_announcement(_version(29, unfavourable=True), DEFAULT_POLICY)
    assert err.value.field == "announced_on" and "Art. 3(2)" in err.value.message


def test_notice_days_are_those_of_the_version_in_force() -> None:
    longer = DEFAULT_POLICY.replace(term_change_notice_days=14)
    with pytest.raises(PolicyInvalid):
        check_announcement(_version(10), longer)


def test_unannounced_version_is_an_internal_override_and_needs_no_notice() -> None:
    check_announcement(Policy(version="ops-fix", effective_from=EFFECTIVE), DEFAULT_POLICY)


def test_announcement_fields_round_trip_through_a_plain_dict() -> None:
    version = _version(30, unfavourable=True)
    plain = version.to_dict()
    assert (plain["announced_on"], plain["unfavourable"]) == ("2027-12-02", True)
    assert Policy.from_dict(plain) == version
    assert Policy.from_dict(DEFAULT_POLICY.to_dict()).announced_on is None


def test_unfavourable_must_be_a_boolean() -> None:
    with pytest.raises(PolicyInvalid) as err:
        Policy.from_dict({"unfavourable": "yes"})
    assert err.value.field == "unfavourable"
