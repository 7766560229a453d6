"""Art. 14(3), 36: time inside a maintenance window (and work the customer asked for) is never
downtime; an outage straddling a window counts only its part outside."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from controlplane.models.customer import Contract
from controlplane.terms.availability import Outage, measure, sla_credit
from controlplane.terms.calendar import YearMonth
from controlplane.terms.policy import DEFAULT_POLICY
from tests.utils.maintenance import World, seoul

MARCH = YearMonth(2027, 3)
WINDOW = (seoul("2027-03-20 01:00"), seoul("2027-03-20 03:00"))


def _contract_of(world: World, customer: str) -> int:
    with Session(world.api.engine) as session:
        query = select(Contract.id).where(Contract.customer_id == world.customers[customer])
        return int(session.exec(query).one())


def _outage(world: World, customer: str, start: datetime, end: datetime, **extra: object) -> None:
    body = {
        "contract_id": _contract_of(world, customer),
        "started_at": start.isoformat(),
        "company_aware_at": start.isoformat(),
        "resolved_at": end.isoformat(),
        **extra,
    }
    response = world.api.call("POST", "/v1/outages", role="operator", json=body)
    assert response.status_code == 201, response.text


def _counted(world: World, customer: str) -> str:
    path = f"/v1/contracts/{_contract_of(world, customer)}/availability?month=2027-03"
    response = world.api.call("GET", path, role="auditor")
    assert response.status_code == 200, response.text
    return str(response.json()["counted_minutes"])


def _window(world: World) -> int:
    response = world.create(starts_at=WINDOW[0], ends_at=WINDOW[1])
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_an_outage_inside_a_window_counts_zero_minutes() -> None:
    inside = Outage(seoul("2027-03-20 01:00"), seoul("2027-03-20 01:00"), seoul("2027-03-20 02:59"))
    assert measure(inside, MARCH, DEFAULT_POLICY, [WINDOW]).counted is False
    assert sla_credit(100_000, MARCH, [inside], DEFAULT_POLICY, [WINDOW]).counted_minutes == 0


def test_an_outage_straddling_a_window_counts_only_the_part_outside() -> None:
    # Unusable 02:00-05:00, noticed 02:00: measured from 02:30; the window takes 02:30-03:00.
    straddling = Outage(seoul("2027-03-20 02:00"), seoul("2027-03-20 02:00"), seoul("2027-03-20 05:00"))
    assert sla_credit(100_000, MARCH, [straddling], DEFAULT_POLICY, [WINDOW]).counted_minutes == 120
    assert sla_credit(100_000, MARCH, [straddling], DEFAULT_POLICY).counted_minutes == 150


def test_a_window_inside_an_outage_splits_it_into_the_parts_before_and_after() -> None:
    around = Outage(seoul("2027-03-20 00:00"), seoul("2027-03-19 23:00"), seoul("2027-03-20 04:00"))
    measured = measure(around, MARCH, DEFAULT_POLICY, [WINDOW])
    assert measured.pieces == ((seoul("2027-03-20 00:00"), WINDOW[0]), (WINDOW[1], seoul("2027-03-20 04:00")))


def test_the_availability_figures_leave_out_window_time_on_the_contracts_hosts(world: World) -> None:
    _window(world)  # on dctest-hv1, where Alice's server is; Bob's is on dctest-hv2
    _outage(world, "alice", seoul("2027-03-20 02:00"), seoul("2027-03-20 05:00"))
    _outage(world, "bob", seoul("2027-03-20 02:00"), seoul("2027-03-20 05:00"))
    assert _counted(world, "alice") == "120"
    assert _counted(world, "bob") == "150"


def test_a_cancelled_window_excludes_nothing(world: World) -> None:
    window_id = _window(world)
    world.api.call(
        "POST", f"/v1/maintenance-windows/{window_id}/cancel", role="operator", json={"reason": "x"}
    )
    _outage(world, "alice", seoul("2027-03-20 01:00"), seoul("2027-03-20 02:30"))
    assert _counted(world, "alice") == "60"


def test_work_the_customer_asked_for_never_counts(world: World) -> None:
    _outage(
        world,
        "alice",
        seoul("2027-03-10 10:00"),
        seoul("2027-03-10 14:00"),
        excluded_reason="customer_request",
    )
    assert _counted(world, "alice") == "0"
