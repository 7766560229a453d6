"""Art. 10(8): regular windows inside 00:00-07:00 Seoul on one day (whatever offset the times carry),
announced 7 days ahead; irregular ones any time with a reason; no two windows on a host at once."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.utils.maintenance import World, seoul


def test_regular_window_crossing_midnight_is_refused_naming_art_10_8_1(world: World) -> None:
    response = world.create(starts_at=seoul("2027-03-19 23:30"), ends_at=seoul("2027-03-20 01:00"))
    assert response.status_code == 422
    assert "Art. 10(8)-1" in response.json()["detail"]


def test_regular_window_from_midnight_to_seven_is_accepted(world: World) -> None:
    response = world.create(starts_at=seoul("2027-03-20 00:00"), ends_at=seoul("2027-03-20 07:00"))
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "scheduled"
    assert response.json()["starts_at_seoul"] == "2027-03-20 00:00 (Asia/Seoul)"


def test_regular_window_running_past_seven_is_refused(world: World) -> None:
    response = world.create(starts_at=seoul("2027-03-20 06:30"), ends_at=seoul("2027-03-20 07:30"))
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "ends_at" and "Art. 10(8)-1" in body["detail"]


def test_utc_times_are_checked_in_seoul_time(world: World) -> None:
    # 16:00-22:00 UTC is 01:00-07:00 Seoul the next day: inside the regular hours.
    inside = world.create(
        starts_at=datetime(2027, 3, 19, 16, 0, tzinfo=UTC), ends_at=datetime(2027, 3, 19, 22, 0, tzinfo=UTC)
    )
    assert inside.status_code == 201, inside.text
    # 01:00-03:00 UTC looks like night but is 10:00-12:00 in Seoul.
    daytime = world.create(
        starts_at=datetime(2027, 3, 21, 1, 0, tzinfo=UTC),
        ends_at=datetime(2027, 3, 21, 3, 0, tzinfo=UTC),
        hosts=["dctest-hv2"],
    )
    assert daytime.status_code == 422
    assert "10:00" in daytime.json()["detail"]


def test_regular_window_sooner_than_the_notice_days_is_refused(world: World) -> None:
    # The API's clock is 2027-03-02 18:00 Seoul: the earliest regular day is 03-09.
    response = world.create(starts_at=seoul("2027-03-08 01:00"), ends_at=seoul("2027-03-08 03:00"))
    assert response.status_code == 422
    assert "2027-03-09" in response.json()["detail"]


def test_irregular_window_needs_a_reason_and_may_run_any_time(world: World) -> None:
    body = {"kind": "irregular", "starts_at": seoul("2027-03-03 14:00"), "ends_at": seoul("2027-03-03 15:00")}
    assert world.create(**body).status_code == 422
    response = world.create(**body, reason="failed power supply on the host")
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "notified"  # Art. 10(8)-2: announced at once


def test_overlapping_windows_on_one_host_are_refused(world: World) -> None:
    assert (
        world.create(starts_at=seoul("2027-03-20 01:00"), ends_at=seoul("2027-03-20 04:00")).status_code
        == 201
    )
    clash = world.create(
        starts_at=seoul("2027-03-20 03:00"),
        ends_at=seoul("2027-03-20 05:00"),
        hosts=["dctest-hv2", "dctest-hv1"],
    )
    assert clash.status_code == 409
    assert "dctest-hv1" in clash.json()["detail"]
    other_host = world.create(
        starts_at=seoul("2027-03-20 03:00"), ends_at=seoul("2027-03-20 05:00"), hosts=["dctest-hv2"]
    )
    assert other_host.status_code == 201


def test_an_unknown_host_is_a_422_naming_hosts(world: World) -> None:
    response = world.create(
        starts_at=seoul("2027-03-20 01:00"), ends_at=seoul("2027-03-20 02:00"), hosts=["dctest-nope"]
    )
    assert response.status_code == 422 and response.json()["field"] == "hosts"


def test_a_cancelled_window_frees_its_time(world: World) -> None:
    first = world.create(starts_at=seoul("2027-03-20 01:00"), ends_at=seoul("2027-03-20 04:00")).json()
    cancelled = world.api.call(
        "POST", f"/v1/maintenance-windows/{first['id']}/cancel", role="operator", json={"reason": "moved"}
    )
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = world.create(starts_at=seoul("2027-03-20 01:00"), ends_at=seoul("2027-03-20 04:00"))
    assert again.status_code == 201
