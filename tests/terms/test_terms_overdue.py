"""Art. 33(1), 21(1), 16(5) with Civil Act counting: restriction once 30 full days after due have passed
(due+31), termination once 5 full days after the restriction day have passed (restriction+6)."""

from datetime import date, timedelta

import pytest

from controlplane.terms.actions import ActionKind, NoticeKind
from controlplane.terms.errors import ExtensionTooLate, TermsError
from controlplane.terms.overdue import (
    NonpaymentFacts,
    UnpaidInvoice,
    decide_nonpayment,
    nonpayment_deadlines,
    restriction_date,
    termination_date,
)
from controlplane.terms.policy import DEFAULT_POLICY

DUE = date(2027, 2, 28)  # a Sunday: no business-day shift anywhere
INVOICE = UnpaidInvoice("inv-1", DUE, 110_000)


def facts(
    as_of: date,
    *,
    restricted_since: date | None = None,
    extension: date | None = None,
    invoices: tuple[UnpaidInvoice, ...] = (INVOICE,),
) -> NonpaymentFacts:
    return NonpaymentFacts("c-1", invoices, as_of, restricted_since, extension)


def kinds(actions: list) -> list[tuple[str, str | None]]:
    return [(a.kind.value, a.notice.value if a.notice else None) for a in actions]


def test_restriction_starts_the_day_after_30_full_days_past_due() -> None:
    # the 30 days after 2027-02-28 are Mar 1 .. Mar 30; restriction on Mar 31 at the earliest
    assert restriction_date(DUE, policy=DEFAULT_POLICY) == date(2027, 3, 31)


def test_termination_is_the_day_after_5_full_days_from_the_restriction() -> None:
    # restricted Apr 9: the 5 days are Apr 10 .. Apr 14; termination on Apr 15 at the earliest
    assert termination_date(date(2027, 4, 9), policy=DEFAULT_POLICY) == date(2027, 4, 15)


def test_deadlines_record_their_counting() -> None:
    plan = nonpayment_deadlines(DUE, policy=DEFAULT_POLICY)
    assert "2027-03-01 … 2027-03-30" in plan.restriction_counting
    assert "2027-04-01 … 2027-04-05" in plan.termination_counting
    assert "event day not counted" in plan.restriction_counting


def test_deadlines_from_a_sunday_due_date_are_not_shifted() -> None:
    plan = nonpayment_deadlines(DUE, policy=DEFAULT_POLICY)
    assert (plan.restriction_on, plan.termination_on) == (date(2027, 3, 31), date(2027, 4, 6))
    assert DUE.weekday() == 6  # 2027-02-28 is a Sunday, counted as is
    assert (str(plan.restriction_clause), str(plan.termination_clause)) == ("Art. 33(1)", "Art. 21(1)")


def test_extension_moves_restriction_up_to_the_day_after_60_full_days() -> None:
    # due 2027-03-31: the 60 days are Apr 1 .. May 30; the latest restriction day is May 31
    due = date(2027, 3, 31)
    plan = nonpayment_deadlines(due, date(2027, 5, 31), policy=DEFAULT_POLICY)
    assert (plan.restriction_on, plan.termination_on, plan.extended) == (
        date(2027, 5, 31),
        date(2027, 6, 6),
        True,
    )


def test_extension_beyond_due_plus_61_is_rejected() -> None:
    with pytest.raises(ExtensionTooLate) as err:
        restriction_date(date(2027, 3, 31), date(2027, 6, 1), policy=DEFAULT_POLICY)
    assert err.value.field == "extension_until"
    assert "2027-05-31" in err.value.message


def test_extension_earlier_than_the_regular_restriction_is_rejected() -> None:
    with pytest.raises(TermsError) as err:
        restriction_date(DUE, date(2027, 3, 30), policy=DEFAULT_POLICY)
    assert err.value.field == "extension_until"


def test_nothing_is_decided_for_a_recently_due_invoice() -> None:
    assert decide_nonpayment(facts(DUE + timedelta(days=23)), policy=DEFAULT_POLICY) == []


def test_customer_is_warned_in_the_week_before_restriction() -> None:
    actions = decide_nonpayment(facts(DUE + timedelta(days=24)), policy=DEFAULT_POLICY)
    assert kinds(actions) == [("notify", "restriction_warning")]
    assert actions[0].deadline == date(2027, 3, 31)


def test_nobody_is_restricted_on_day_30_after_due() -> None:
    restricting = [
        a
        for a in decide_nonpayment(facts(date(2027, 3, 30)), policy=DEFAULT_POLICY)
        if a.kind is ActionKind.RESTRICT
    ]
    assert restricting == []


def test_unpaid_invoice_is_restricted_on_day_31_after_due() -> None:
    actions = decide_nonpayment(facts(date(2027, 3, 31)), policy=DEFAULT_POLICY)
    assert kinds(actions) == [("restrict", None), ("notify", "restricted")]
    assert all(str(a.clause) == "Art. 33(1)" for a in actions)
    assert actions[0].deadline == date(2027, 3, 31)
    assert actions[0].invoice_ids == ("inv-1",)
    assert "event day not counted" in actions[0].counting


def test_missed_sweep_restricts_late_but_never_terminates_in_the_same_step() -> None:
    # as_of = due + 40 with no restriction yet: restrict now; the record keeps the day the terms allowed.
    actions = decide_nonpayment(facts(DUE + timedelta(days=40)), policy=DEFAULT_POLICY)
    assert kinds(actions) == [("restrict", None), ("notify", "restricted")]
    assert actions[0].deadline == date(2027, 3, 31)
    assert "restricted on 2027-04-09" in actions[0].reason
    # termination counts from the restriction that actually began on due + 40
    assert "termination if still unpaid on 2027-04-15" in actions[0].reason


def test_termination_waits_5_days_from_a_late_restriction() -> None:
    began = DUE + timedelta(days=40)  # 2027-04-09
    assert decide_nonpayment(facts(date(2027, 4, 14), restricted_since=began), policy=DEFAULT_POLICY) == []
    actions = decide_nonpayment(facts(date(2027, 4, 15), restricted_since=began), policy=DEFAULT_POLICY)
    assert kinds(actions) == [("terminate", None), ("notify", "termination")]
    assert actions[0].deadline == date(2027, 4, 15)
    assert str(actions[0].clause) == "Art. 21(1)" and actions[0].automatic


def test_payment_in_full_lifts_the_nonpayment_restriction() -> None:
    paid = UnpaidInvoice("inv-1", DUE, 0)
    actions = decide_nonpayment(
        facts(date(2027, 4, 1), restricted_since=date(2027, 3, 30), invoices=(paid,)), policy=DEFAULT_POLICY
    )
    assert kinds(actions) == [("lift", None), ("notify", "lifted")]
    assert str(actions[0].clause) == "Art. 16(5)"


def test_partial_payment_does_not_lift_the_restriction() -> None:
    part = UnpaidInvoice("inv-1", DUE, 1)
    assert (
        decide_nonpayment(
            facts(date(2027, 4, 1), restricted_since=date(2027, 3, 30), invoices=(part,)),
            policy=DEFAULT_POLICY,
        )
        == []
    )


def test_approved_extension_postpones_the_restriction() -> None:
    extension = DUE + timedelta(days=50)  # 2027-04-19
    assert kinds(
        decide_nonpayment(facts(DUE + timedelta(days=45), extension=extension), policy=DEFAULT_POLICY)
    ) == [("notify", "restriction_warning")]
    actions = decide_nonpayment(facts(extension, extension=extension), policy=DEFAULT_POLICY)
    assert actions[0].kind is ActionKind.RESTRICT and actions[0].deadline == extension


def test_oldest_unpaid_invoice_is_the_anchor() -> None:
    older = UnpaidInvoice("inv-0", date(2027, 1, 31), 0)  # paid
    newer = UnpaidInvoice("inv-1", DUE, 50_000)
    assert decide_nonpayment(facts(date(2027, 3, 3), invoices=(older, newer)), policy=DEFAULT_POLICY) == []
    unpaid_older = UnpaidInvoice("inv-0", date(2027, 1, 31), 10)
    actions = decide_nonpayment(
        facts(date(2027, 3, 3), invoices=(newer, unpaid_older)), policy=DEFAULT_POLICY
    )
    assert actions[0].kind is ActionKind.RESTRICT  # Feb 1 .. Mar 2 are the 30 days; Mar 3 restricts
    assert actions[0].invoice_ids == ("inv-0", "inv-1")


def test_termination_needs_an_operator_when_policy_disables_automatic_termination() -> None:
    policy = DEFAULT_POLICY.replace(auto_terminate_nonpayment=False)
    actions = decide_nonpayment(facts(date(2027, 4, 6), restricted_since=date(2027, 3, 31)), policy=policy)
    assert actions[0].kind is ActionKind.TERMINATE and actions[0].automatic is False
    assert actions[1].notice is NoticeKind.TERMINATION_ELIGIBLE


def test_action_keys_are_stable_across_reruns() -> None:
    first = decide_nonpayment(facts(date(2027, 3, 31)), policy=DEFAULT_POLICY)
    rerun = decide_nonpayment(facts(date(2027, 4, 2)), policy=DEFAULT_POLICY)
    assert [a.key for a in first] == [a.key for a in rerun]


@pytest.mark.parametrize("every_days", [1, 3, 4, 7])
def test_a_sweep_that_misses_days_never_skips_a_step(every_days: int) -> None:
    """Run the decision every N days, applying restrict/terminate; steps happen in order, on anchors."""
    restricted_since: date | None = None
    events: list[tuple[str, date]] = []
    day = DUE
    while day <= DUE + timedelta(days=60) and not any(e[0] == "terminate" for e in events):
        for action in decide_nonpayment(facts(day, restricted_since=restricted_since), policy=DEFAULT_POLICY):
            if action.kind is ActionKind.RESTRICT:
                restricted_since = day
                events.append(("restrict", day))
            elif action.kind is ActionKind.TERMINATE:
                events.append(("terminate", day))
        day += timedelta(days=every_days)
    (restrict_kind, restricted_on), (terminate_kind, terminated_on) = events
    assert (restrict_kind, terminate_kind) == ("restrict", "terminate")
    assert restricted_on >= date(2027, 3, 31) and restricted_on - date(2027, 3, 31) < timedelta(every_days)
    assert terminated_on >= restricted_on + timedelta(days=6)
    assert terminated_on - (restricted_on + timedelta(days=6)) < timedelta(every_days)
