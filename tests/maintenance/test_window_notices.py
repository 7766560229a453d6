"""Notices (Art. 10(8), 13): the affected customers, and only they, hear of a regular window 7 days
ahead, once; a changed time and a cancellation notify them again; Korean and English, Seoul times."""

from __future__ import annotations

from sqlmodel import Session, col, select

from controlplane.models.audit import AuditEvent
from controlplane.models.notices import Notice
from controlplane.notify.sms import LoggingSmsProvider
from controlplane.services.notices import deliver_due_notices
from tests.utils.maintenance import World, seoul
from tests.utils.relay import running_relay


def _notices(world: World, kind: str = "maintenance") -> list[Notice]:
    with Session(world.api.engine) as session:
        return list(session.exec(select(Notice).where(Notice.kind == kind).order_by(col(Notice.id))).all())


def _regular(world: World) -> int:
    response = world.create(starts_at=seoul("2027-03-20 01:00"), ends_at=seoul("2027-03-20 03:00"))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_affected_customers_only_receive_the_notice_seven_days_ahead_once(world: World) -> None:
    _regular(world)
    world.advance(seoul("2027-03-12 23:59"))  # the day before the notice day: nothing yet
    assert _notices(world) == []
    report = world.advance(seoul("2027-03-13 00:01"))  # 03-20 minus 7 days
    world.advance(seoul("2027-03-13 00:02"))  # reruns of the job queue nothing more
    world.advance(seoul("2027-03-14 00:00"))
    assert report.notified
    notices = _notices(world)
    assert [(n.customer_id, n.recipient) for n in notices] == [(world.customers["alice"], "alice@example.kr")]
    with running_relay() as relay:
        deliver_due_notices(world.api.engine, relay.sender(), LoggingSmsProvider(), world.api.clock)
        deliver_due_notices(world.api.engine, relay.sender(), LoggingSmsProvider(), world.api.clock)
        messages = relay.recorder.messages
    assert [m["To"] for m in messages] == ["alice@example.kr"]
    body = messages[0].get_payload(decode=True).decode()
    assert "정기 점검 안내" in body and "Regular maintenance notice" in body
    assert "2027-03-20 01:00 KST ~ 2027-03-20 03:00 KST" in body
    assert "dctest-alice-web" in body


def test_a_changed_time_notifies_again_and_a_cancellation_once_more(world: World) -> None:
    window_id = _regular(world)
    world.advance(seoul("2027-03-13 00:01"))
    moved = world.api.call(
        "PATCH",
        f"/v1/maintenance-windows/{window_id}",
        role="operator",
        json={
            "starts_at": seoul("2027-03-27 02:00").isoformat(),
            "ends_at": seoul("2027-03-27 04:00").isoformat(),
        },
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["revision"] == 2
    cancelled = world.api.call(
        "POST", f"/v1/maintenance-windows/{window_id}/cancel", role="operator", json={"reason": "parts late"}
    )
    assert cancelled.status_code == 200
    notices = _notices(world)
    assert [n.customer_id for n in notices] == [world.customers["alice"]] * 2
    assert "[일정 변경]" in notices[1].body and "2027-03-27 02:00 KST" in notices[1].body
    (cancel,) = _notices(world, "maintenance_cancel")
    assert cancel.customer_id == world.customers["alice"] and "parts late" in cancel.body


def test_a_window_cancelled_before_its_notice_day_tells_nobody(world: World) -> None:
    window_id = _regular(world)
    world.api.call(
        "POST", f"/v1/maintenance-windows/{window_id}/cancel", role="operator", json={"reason": "x"}
    )
    world.advance(seoul("2027-03-13 00:01"))
    assert _notices(world) == [] and _notices(world, "maintenance_cancel") == []


def test_each_step_of_the_life_cycle_is_audited(world: World) -> None:
    window_id = _regular(world)
    world.advance(seoul("2027-03-13 00:01"))
    world.advance(seoul("2027-03-20 01:00"))
    world.advance(seoul("2027-03-20 03:00"))
    shown = world.api.call("GET", f"/v1/maintenance-windows/{window_id}", role="auditor").json()
    assert shown["state"] == "completed"
    with Session(world.api.engine) as session:
        actions = session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "maintenance_window", AuditEvent.entity_id == str(window_id))
            .order_by(col(AuditEvent.id))
        ).all()
    assert list(actions) == ["create", "notify", "start", "complete"]


def test_a_late_job_still_walks_the_window_through_every_step_once(world: World) -> None:
    window_id = _regular(world)
    report = world.advance(seoul("2027-03-21 09:00"))  # the job was down for the whole stretch
    assert (report.notified, report.started, report.completed) == ([window_id], [window_id], [window_id])
    assert len(_notices(world)) == 1
