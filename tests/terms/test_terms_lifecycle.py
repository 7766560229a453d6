"""Map section 1: the contract state machine, approval holds (Art. 8) and Art. 16(4) restrictions."""

from datetime import date

import pytest

from controlplane.terms.actions import ActionKind
from controlplane.terms.approval import ApplicantFacts, HoldReason, review_application
from controlplane.terms.errors import IllegalTransition, TermsError
from controlplane.terms.lifecycle import Event, State, allowed_events, transition
from controlplane.terms.policy import DEFAULT_POLICY
from controlplane.terms.restriction import (
    RestrictionFacts,
    check_restriction_period,
    cure_deadline,
    decide_uncured_restriction,
    item_clause,
)


def test_contract_walks_from_application_to_termination_citing_each_clause() -> None:
    path = [
        (Event.APPROVE, "Art. 7(2)"),
        (Event.OPEN, "Art. 9(1), Art. 23"),
        (Event.RESTRICT, "Art. 16, Art. 33(1)"),
        (Event.LIFT, "Art. 16(5)"),
        (Event.TERMINATE, "Art. 20, Art. 21"),
        (Event.COMPLETE_TERMINATION, "Art. 20(8)"),
    ]
    state = State.APPLIED
    for event, clause in path:
        step = transition(state, event)
        assert str(step.clause) == clause
        state = step.target
    assert state is State.TERMINATED


def test_illegal_transition_names_the_current_state() -> None:
    with pytest.raises(IllegalTransition) as err:
        transition("terminated", "open")
    assert err.value.current_state == "terminated"
    assert "terminated" in str(err.value)


def test_terminated_is_irreversible() -> None:
    assert allowed_events(State.TERMINATED) == []


def test_held_application_can_be_approved_but_not_opened() -> None:
    assert transition(State.HELD, Event.APPROVE).target is State.APPROVED
    with pytest.raises(IllegalTransition):
        transition(State.HELD, Event.OPEN)


def test_automatic_holds_cite_8_6_8_7_and_8_9() -> None:
    holds = review_application(
        ApplicantFacts(unpaid_on_other_services=5_000, has_delinquency_record=True, is_minor=True)
    )
    assert [(h.reason, str(h.clause), h.automatic) for h in holds] == [
        (HoldReason.UNPAID_ELSEWHERE, "Art. 8(6)", True),
        (HoldReason.DELINQUENCY_RECORD, "Art. 8(7)", True),
        (HoldReason.MINOR, "Art. 8(9)", True),
    ]


def test_clean_applicant_without_operator_reasons_is_approved() -> None:
    assert review_application(ApplicantFacts()) == []


def test_operator_reasons_are_recorded_with_their_item() -> None:
    holds = review_application(ApplicantFacts(), [HoldReason.FALSE_APPLICATION, HoldReason.NOT_REAL_NAME])
    assert [str(h.clause) for h in holds] == ["Art. 8(3)", "Art. 8(1)"]
    assert not any(h.automatic for h in holds)


def test_other_restriction_lasts_at_most_one_month() -> None:
    assert check_restriction_period(date(2027, 1, 31), date(2027, 2, 28), policy=DEFAULT_POLICY) == date(
        2027, 2, 28
    )
    with pytest.raises(TermsError) as err:
        check_restriction_period(date(2027, 1, 31), date(2027, 3, 1), policy=DEFAULT_POLICY)
    assert err.value.field == "planned_end"


def test_restriction_items_run_1_to_18() -> None:
    assert str(item_clause(3)) == "Art. 16(4)-3"
    with pytest.raises(TermsError):
        item_clause(19)


def test_uncured_restriction_is_listed_for_termination_after_one_month_needing_an_operator() -> None:
    assert cure_deadline(date(2027, 3, 10), policy=DEFAULT_POLICY) == date(2027, 4, 10)
    base = dict(
        block_id="b1",
        contract_id="c1",
        item=3,
        started_on=date(2027, 2, 10),
        planned_end=date(2027, 3, 10),
        resolved=False,
    )
    assert (
        decide_uncured_restriction(RestrictionFacts(**base, as_of=date(2027, 4, 10)), policy=DEFAULT_POLICY)
        == []
    )
    actions = decide_uncured_restriction(
        RestrictionFacts(**base, as_of=date(2027, 4, 11)), policy=DEFAULT_POLICY
    )
    assert actions[0].kind is ActionKind.TERMINATE and actions[0].automatic is False
    assert str(actions[0].clause) == "Art. 21(4)"
    assert (
        decide_uncured_restriction(
            RestrictionFacts(**{**base, "resolved": True}, as_of=date(2027, 6, 1)), policy=DEFAULT_POLICY
        )
        == []
    )
