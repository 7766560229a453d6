"""Art. 33(1), 21(1), 16(5): restriction 30 days after due, termination 5 days after it actually began."""

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


def facts(as_of: date, *, restricted_since: date | None = None, extension: date | None = None,
          invoices: tuple[UnpaidInvoice, ...] = (INVOICE,)) -> NonpaymentFacts:
    return NonpaymentFacts("c-1", invoices, as_of, restricted_since, extension)


def kinds(actions: list) -> list[tuple[str, str | None]]:
    return [(a.kind.value, a.notice.value if a.notice else None) for a in actions]


def test_restriction_starts_30_days_after_due_date() -> None:
    # 2027-02-28 + 30 days = 2027-03-30 (March has 31 days: Mar 1 is +1, Mar 30 is +30)
    assert restriction_date(DUE) == date(2027, 3, 30)


def test_termination_is_5_days_after_the_restriction_actually_began() -> None:
    assert termination_date(date(2027, 4, 9)) == date(2027, 4, 14)


def test_deadlines_from_a_sunday_due_date_are_not_shifted() -> None:
    plan = nonpayment_deadlines(DUE)
    assert (plan.restriction_on, plan.termination_on) == (date(2027, 3, 30), date(2027, 4, 4))
    assert plan.termination_on.weekday() == 6  # 2027-04-04 is a Sunday, kept as is
    assert (str(plan.restriction_clause), str(plan.termination_clause)) == ("Art. 33(1)", "Art. 21(1)")


def test_extension_moves_restriction_up_to_60_days_after_due() -> None:
    # due 2027-03-31 + 60 days = 2027-05-30
    due = date(2027, 3, 31)
    plan = nonpayment_deadlines(due, date(2027, 5, 30))
    assert (plan.restriction_on, plan.termination_on, plan.extended) == (
        date(2027, 5, 30), date(2027, 6, 4), True)


def test_extension_beyond_60_days_after_due_is_rejected() -> None:
    with pytest.raises(ExtensionTooLate) as err:
        restriction_date(date(2027, 3, 31), date(2027, 5, 31))
    assert err.value.field == "extension_until"
    assert "2027-05-30" in err.value.message


def test_extension_earlier_than_the_regular_restriction_is_rejected() -> None:
    with pytest.raises(TermsError) as err:
        restriction_date(DUE, date(2027, 3, 29))
    assert err.value.field == "extension_until"


def test_nothing_is_decided_for_a_recently_due_invoice() -> None:
    assert decide_nonpayment(facts(DUE + timedelta(days=22))) == []


def test_customer_is_warned_in_the_week_before_restriction() -> None:
    actions = decide_nonpayment(facts(DUE + timedelta(days=23)))
    assert kinds(actions) == [("notify", "restriction_warning")]
    assert actions[0].deadline == date(2027, 3, 30)


def test_unpaid_invoice_is_restricted_on_day_30_after_due() -> None:
    actions = decide_nonpayment(facts(date(2027, 3, 30)))
    assert kinds(actions) == [("restrict", None), ("notify", "restricted")]
    assert all(str(a.clause) == "Art. 33(1)" for a in actions)
    assert actions[0].deadline == date(2027, 3, 30)
    assert actions[0].invoice_ids == ("inv-1",)


def test_missed_sweep_restricts_late_but_never_terminates_in_the_same_step() -> None:
    # as_of = due + 40 with no restriction yet: restrict now, on the due+30 anchor.
    actions = decide_nonpayment(facts(DUE + timedelta(days=40)))
    assert kinds(actions) == [("restrict", None), ("notify", "restricted")]
    assert actions[0].deadline == date(2027, 3, 30)
    # termination counts from the restriction that actually began on due + 40
    assert "2027-04-14" in actions[0].reason


def test_termination_waits_5_days_from_a_late_restriction() -> None:
    began = DUE + timedelta(days=40)  # 2027-04-09
    assert decide_nonpayment(facts(date(2027, 4, 13), restricted_since=began)) == []
    actions = decide_nonpayment(facts(date(2027, 4, 14), restricted_since=began))
    assert kinds(actions) == [("terminate", None), ("notify", "termination")]
    assert actions[0].deadline == date(2027, 4, 14)
    assert str(actions[0].clause) == "Art. 21(1)" and actions[0].automatic


def test_payment_in_full_lifts_the_nonpayment_restriction() -> None:
    paid = UnpaidInvoice("inv-1", DUE, 0)
    actions = decide_nonpayment(facts(date(2027, 4, 1), restricted_since=date(2027, 3, 30), invoices=(paid,)))
    assert kinds(actions) == [("lift", None), ("notify", "lifted")]
    assert str(actions[0].clause) == "Art. 16(5)"


def test_partial_payment_does_not_lift_the_restriction() -> None:
    part = UnpaidInvoice("inv-1", DUE, 1)
    assert decide_nonpayment(facts(date(2027, 4, 1), restricted_since=date(2027, 3, 30),
                                   invoices=(part,))) == []


def test_approved_extension_postpones_the_restriction() -> None:
    extension = DUE + timedelta(days=50)  # 2027-04-19
    assert kinds(decide_nonpayment(facts(DUE + timedelta(days=45), extension=extension))) == [
        ("notify", "restriction_warning")]
    actions = decide_nonpayment(facts(extension, extension=extension))
    assert actions[0].kind is ActionKind.RESTRICT and actions[0].deadline == extension


def test_oldest_unpaid_invoice_is_the_anchor() -> None:
    older = UnpaidInvoice("inv-0", date(2027, 1, 31), 0)  # paid
    newer = UnpaidInvoice("inv-1", DUE, 50_000)
    assert decide_nonpayment(facts(date(2027, 3, 3), invoices=(older, newer))) == []
    unpaid_older = UnpaidInvoice("inv-0", date(2027, 1, 31), 10)
    actions = decide_nonpayment(facts(date(2027, 3, 3), invoices=(newer, unpaid_older)))
    assert actions[0].kind is ActionKind.RESTRICT  # 2027-01-31 + 30 = 2027-03-02
    assert actions[0].invoice_ids == ("inv-0", "inv-1")


def test_termination_needs_an_operator_when_policy_disables_automatic_termination() -> None:
    policy = DEFAULT_POLICY.replace(auto_terminate_nonpayment=False)
    actions = decide_nonpayment(facts(date(2027, 4, 4), restricted_since=date(2027, 3, 30)), policy)
    assert actions[0].kind is ActionKind.TERMINATE and actions[0].automatic is False
    assert actions[1].notice is NoticeKind.TERMINATION_ELIGIBLE


def test_action_keys_are_stable_across_reruns() -> None:
    first = decide_nonpayment(facts(date(2027, 3, 30)))
    rerun = decide_nonpayment(facts(date(2027, 4, 2)))
    assert [a.key for a in first] == [a.key for a in rerun]


@pytest.mark.parametrize("every_days", [1, 3, 4, 7])
def test_a_sweep_that_misses_days_never_skips_a_step(every_days: int) -> None:
    """Run the decision every N days, applying restrict/terminate; steps happen in order, on anchors."""
    restricted_since: date | None = None
    events: list[tuple[str, date]] = []
    day = DUE
    while day <= DUE + timedelta(days=60) and not any(e[0] == "terminate" for e in events):
        for action in decide_nonpayment(facts(day, restricted_since=restricted_since)):
            if action.kind is ActionKind.RESTRICT:
                restricted_since = day
                events.append(("restrict", day))
            elif action.kind is ActionKind.TERMINATE:
                events.append(("terminate", day))
        day += timedelta(days=every_days)
    (restrict_kind, restricted_on), (terminate_kind, terminated_on) = events
    assert (restrict_kind, terminate_kind) == ("restrict", "terminate")
    assert restricted_on >= date(2027, 3, 30) and restricted_on - date(2027, 3, 30) < timedelta(every_days)
    assert terminated_on >= restricted_on + timedelta(days=5)
    assert terminated_on - (restricted_on + timedelta(days=5)) < timedelta(every_days)
