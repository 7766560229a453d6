"""Spam complaints (Art. 26) through the API: deadlines counted as the Civil Act counts them (the day of
the event not counted, Seoul calendar days), notices through the outbox, the plan's proposal, /metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from controlplane.clock import FixedClock
from controlplane.models.notices import Notice
from scheduler.jobs.enforcement import case_deadlines
from scheduler.registry import JobContext
from tests.utils.api import Api
from tests.utils.workflows import contract_with_servers, desired

RECEIVED = "2027-03-02T09:00:00+00:00"  # 18:00 in Seoul on 2027-03-02, the clock's moment


def _file(api: Api, server_id: str, received_at: str = RECEIVED) -> dict[str, Any]:
    body = {"complainant": "KISA", "received_at": received_at, "evidence": "headers", "server_id": server_id}
    response = api.call("POST", "/v1/spam-complaints", role="operator", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _asked(api: Api) -> tuple[int, str, dict[str, Any]]:
    contract_id, ids = contract_with_servers(api, servers=1)
    complaint = _file(api, ids[0])
    path = f"/v1/spam-complaints/{complaint['id']}/ask-customer"
    asked = api.call("POST", path, role="operator", json={"message": "stop the open relay"})
    assert asked.status_code == 200, asked.text
    return contract_id, ids[0], asked.json()


def _post(api: Api, complaint_id: int, step: str, body: dict[str, Any]) -> Any:
    return api.call("POST", f"/v1/spam-complaints/{complaint_id}/{step}", role="operator", json=body)


def _plan(api: Api, as_of: str) -> list[str]:
    response = api.call("GET", f"/v1/enforcement/plan?as_of={as_of}", role="operator")
    assert response.status_code == 200, response.text
    return [a["kind"] for a in response.json()]


def test_the_answer_is_due_by_the_end_of_the_7th_day_after_receipt(api: Api) -> None:
    _, ids = contract_with_servers(api, servers=1)
    due = _file(api, ids[0])["answer_due"]
    assert (due["clause"], due["expires_end_of"], due["acts_on"]) == (
        "Art. 26(4)",
        "2027-03-09",
        "2027-03-10",
    )
    assert "event day not counted" in due["counting"]


def test_a_complaint_received_after_midnight_in_seoul_counts_from_the_seoul_day(api: Api) -> None:
    _, ids = contract_with_servers(api, servers=1)
    due = _file(api, ids[0], received_at="2027-03-02T16:00:00+00:00")["answer_due"]  # 03-03 01:00 Seoul
    assert due["expires_end_of"] == "2027-03-10"


def test_an_answer_on_the_8th_day_is_recorded_as_late(api: Api) -> None:
    _, ids = contract_with_servers(api, servers=1)
    complaint = _file(api, ids[0])
    api.clock.now = datetime(2027, 3, 10, 1, 0, tzinfo=UTC)  # 10:00 in Seoul on 03-10
    answered = _post(api, complaint["id"], "answer", {"answer": "handled"}).json()
    assert answered["answered_in_time"] is False


def test_the_fix_report_is_due_7_days_after_the_customer_is_asked(api: Api) -> None:
    _, _, asked = _asked(api)
    due = asked["fix_report_due"]
    assert (due["clause"], due["expires_end_of"], due["acts_on"]) == (
        "Art. 26(5)",
        "2027-03-09",
        "2027-03-10",
    )


def test_asking_the_customer_queues_a_notice_naming_the_last_day(api: Api) -> None:
    _asked(api)
    with Session(api.engine) as session:
        notices = session.exec(select(Notice).where(Notice.kind == "spam_fix_requested")).all()
    assert notices and all("2027-03-09" in n.body for n in notices)


def test_the_plan_proposes_no_smtp_block_on_the_last_day_of_the_report_period(api: Api) -> None:
    _asked(api)
    assert "spam_smtp_block_proposed" not in _plan(api, "2027-03-09")


def test_the_plan_proposes_an_smtp_block_for_an_operator_the_day_after(api: Api) -> None:
    contract_id, _, _ = _asked(api)
    response = api.call("GET", "/v1/enforcement/plan?as_of=2027-03-10", role="operator").json()
    proposal = [a for a in response if a["kind"] == "spam_smtp_block_proposed"]
    assert [(a["contract_id"], a["clause"], a["automatic"], a["deadline"]) for a in proposal] == [
        (contract_id, "Art. 26(6)", False, "2027-03-10")
    ]


def test_a_fix_reported_in_time_leaves_nothing_to_propose(api: Api) -> None:
    _, _, asked = _asked(api)
    api.clock.now = datetime(2027, 3, 9, 14, 0, tzinfo=UTC)  # 23:00 in Seoul on the last day
    assert _post(api, asked["id"], "fix-report", {"report": "relay closed"}).json()["fix_reported_in_time"]
    assert "spam_smtp_block_proposed" not in _plan(api, "2027-03-10")


def test_confirming_the_block_on_the_last_day_of_the_period_is_refused(api: Api) -> None:
    _, _, asked = _asked(api)
    api.clock.now = datetime(2027, 3, 9, 14, 0, tzinfo=UTC)
    response = _post(api, asked["id"], "restrict", {})
    assert response.status_code == 409 and "2027-03-10" in response.text


def test_a_confirmed_block_stops_outbound_smtp_and_keeps_the_server_running(api: Api) -> None:
    contract_id, server_id, asked = _asked(api)
    api.clock.now = datetime(2027, 3, 10, 1, 0, tzinfo=UTC)
    confirmed = _post(api, asked["id"], "restrict", {})
    assert confirmed.status_code == 200, confirmed.text
    block = api.call("GET", f"/v1/contracts/{contract_id}/blocks").json()
    assert [(b["id"], b["scope"], b["clause"]) for b in block] == [
        (confirmed.json()["block_id"], "smtp", "Art. 16(4)-4")
    ]
    served = desired(api)[server_id]
    assert served.block_outbound_smtp and served.desired_state == "running"


def test_a_confirmed_block_leaves_the_plan(api: Api) -> None:
    _, _, asked = _asked(api)
    api.clock.now = datetime(2027, 3, 10, 1, 0, tzinfo=UTC)
    _post(api, asked["id"], "restrict", {})
    assert "spam_smtp_block_proposed" not in _plan(api, "2027-03-10")


def test_open_spam_deadlines_are_in_metrics(api: Api) -> None:
    _asked(api)
    api.clock.now = datetime(2027, 3, 10, 1, 0, tzinfo=UTC)
    text = api.client.get("/metrics").text
    assert 'dcloud_spam_deadlines{due="overdue",stage="answer"} 1.0' in text
    assert 'dcloud_spam_deadlines{due="overdue",stage="fix_report"} 1.0' in text


def test_a_complaint_naming_neither_address_nor_server_is_refused(api: Api) -> None:
    body = {"complainant": "KISA", "received_at": RECEIVED, "evidence": "headers"}
    response = api.call("POST", "/v1/spam-complaints", role="operator", json=body)
    assert response.status_code == 422 and "server_id" in response.text


def _deadline_warnings(api: Api, now: datetime, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="scheduler.jobs.enforcement"):
        case_deadlines(JobContext(engine=api.engine, settings=api.settings, clock=FixedClock(now)))
    return [r.getMessage() for r in caplog.records if "spam complaint" in r.getMessage()]


def test_the_deadline_job_warns_on_the_day_a_spam_answer_is_due_and_not_before(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    _, ids = contract_with_servers(api, servers=1)
    _file(api, ids[0])  # received 2027-03-02: answer due by the end of 2027-03-09 (Art. 26(4))
    assert _deadline_warnings(api, datetime(2027, 3, 6, 1, tzinfo=UTC), caplog) == []
    assert _deadline_warnings(api, datetime(2027, 3, 9, 1, tzinfo=UTC), caplog) == [
        "spam complaint answer due 2027-03-09 (due within a day, Art. 26(4))"
    ]
