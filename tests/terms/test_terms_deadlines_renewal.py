"""Notice deadlines (Art. 3, 9, 19, 20, 26, 35, 37) and automatic renewal (Art. 18, 3(4))."""

from datetime import date

from controlplane.terms import deadlines as d
from controlplane.terms.policy import DEFAULT_POLICY
from controlplane.terms.renewal import Term, base_term, decide_renewal, next_term


def test_open_date_postponement_needs_notice_3_days_before() -> None:
    deadline = d.open_date_postponement_notice(date(2027, 3, 10), policy=DEFAULT_POLICY)
    assert deadline.on == date(2027, 3, 7) and str(deadline.clause) == "Art. 9(2)"
    assert deadline.is_met_by(date(2027, 3, 7)) and not deadline.is_met_by(date(2027, 3, 8))


def test_termination_request_needs_7_days_notice() -> None:
    assert d.termination_notice(date(2027, 3, 10), policy=DEFAULT_POLICY).on == date(2027, 3, 3)
    assert d.earliest_termination_date(date(2027, 2, 25), policy=DEFAULT_POLICY) == date(2027, 3, 4)


def test_dispute_window_is_15_days_from_sending_and_answer_7_days() -> None:
    assert d.dispute_window(date(2027, 4, 10), policy=DEFAULT_POLICY).on == date(2027, 4, 25)
    assert d.dispute_answer(date(2027, 4, 25), policy=DEFAULT_POLICY).on == date(2027, 5, 2)


def test_spam_answer_and_fix_report_are_due_within_7_days() -> None:
    assert d.spam_answer(date(2027, 12, 28), policy=DEFAULT_POLICY).on == date(2028, 1, 4)
    assert str(d.spam_fix_report(date(2027, 12, 28), policy=DEFAULT_POLICY).clause) == "Art. 26(5)"


def test_succession_is_filed_within_30_days() -> None:
    assert d.succession_filing(date(2028, 2, 1), policy=DEFAULT_POLICY).on == date(
        2028, 3, 2
    )  # Feb 2028 has 29 days


def test_claim_window_is_3_months_from_learning_the_cause() -> None:
    assert d.claim_window(date(2027, 1, 15), policy=DEFAULT_POLICY).on == date(2027, 4, 15)
    # Nov 30 + 3 months: no Feb 30, so the last day of February (2028 is leap)
    assert d.claim_window(date(2027, 11, 30), policy=DEFAULT_POLICY).on == date(2028, 2, 29)


def test_terms_change_notice_is_7_days_or_30_if_unfavourable() -> None:
    assert d.term_change_announcement(date(2027, 7, 1), unfavourable=False, policy=DEFAULT_POLICY).on == date(
        2027, 6, 24
    )
    assert d.term_change_announcement(date(2027, 7, 1), unfavourable=True, policy=DEFAULT_POLICY).on == date(
        2027, 6, 1
    )


def test_base_term_is_one_year() -> None:
    assert base_term(date(2027, 3, 15), policy=DEFAULT_POLICY) == Term(
        date(2027, 3, 15), date(2028, 3, 14), 12
    )


def test_renewed_term_of_a_contract_opened_on_the_31st_keeps_one_year() -> None:
    first = base_term(date(2027, 1, 31), policy=DEFAULT_POLICY)
    assert first.last == date(2028, 1, 30)
    assert next_term(first) == Term(date(2028, 1, 31), date(2029, 1, 30), 12)


def test_contract_renews_for_the_same_term_unless_termination_was_requested() -> None:
    term = base_term(date(2027, 1, 1), policy=DEFAULT_POLICY)
    renewed = decide_renewal(term, "2025-01", termination_requested=False)
    assert renewed.renews and renewed.next_term == Term(date(2028, 1, 1), date(2028, 12, 31), 12)
    assert renewed.terms_version == "2025-01" and str(renewed.clause) == "Art. 18"
    assert not decide_renewal(term, "2025-01", termination_requested=True).renews


def test_customer_who_objected_to_new_terms_renews_only_after_accepting_them() -> None:
    term = base_term(date(2027, 1, 1), policy=DEFAULT_POLICY)
    ended = decide_renewal(
        term, "v1", termination_requested=False, latest_version="v2", objected_to_latest=True
    )
    assert not ended.renews and str(ended.clause) == "Art. 3(4)"
    accepted = decide_renewal(
        term,
        "v1",
        termination_requested=False,
        latest_version="v2",
        objected_to_latest=True,
        accepted_latest=True,
    )
    assert accepted.renews and accepted.terms_version == "v2"


def test_renewal_moves_a_non_objecting_contract_to_the_latest_terms() -> None:
    term = base_term(date(2027, 1, 1), policy=DEFAULT_POLICY)
    assert decide_renewal(term, "v1", termination_requested=False, latest_version="v2").terms_version == "v2"
