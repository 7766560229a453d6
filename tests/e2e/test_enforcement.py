"""Enforcement end to end: the real API (uvicorn) and the real agent against `qemu:///system`, time moved by
the injected clock. Unpaid 30 days after due -> the domain is paused; paid on day 32 -> running again;
left unpaid -> terminated on day 35: domain and volume gone, deletion record stored, contract ended."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import libvirt
import pytest
from sqlmodel import Session, select

from controlplane.clock import FixedClock
from controlplane.db import session_scope
from controlplane.models import Contract, Customer, DeletionRecord, Invoice
from controlplane.terms.calendar import seoul_midnight
from tests.e2e.stack import LiveStack, start_stack, wait_for
from tests.utils.libvirt_net import TestNetwork, isolated_network
from tests.utils.terminations import deliver_notices_now

pytestmark = [pytest.mark.libvirt]

DUE = date(2027, 2, 28)


def at_noon(day: date) -> FixedClock:
    return FixedClock(seoul_midnight(day) + timedelta(hours=12))


@pytest.fixture
def clock() -> FixedClock:
    return at_noon(date(2027, 3, 1))


@pytest.fixture
def live(tmp_path: Path, clock: FixedClock) -> Iterator[LiveStack]:
    stack = start_stack(tmp_path, clock=clock)
    try:
        yield stack
    finally:
        stack.stop()


def _unpaid_contract_with_server(stack: LiveStack) -> tuple[int, int, str]:
    """A customer, an active contract with a January invoice due 2027-02-28, and one running server."""
    with session_scope(stack.engine) as session:
        now = seoul_midnight(date(2027, 1, 1))
        customer = Customer(name="dctest e2e 고객", email="dctest@example.kr", address="서울",
                            contact_name="김", contact_phone="02-555-0101", created_at=now)
        session.add(customer)
        session.flush()
        contract = Contract(customer_id=customer.id or 0, state="active", plan="std-1", monthly_fee=100_000,
                            desired_open_date=date(2027, 1, 1), term_start=date(2027, 1, 1),
                            term_end=date(2027, 12, 31), terms_version="2025-01", created_at=now,
                            updated_at=now)
        session.add(contract)
        session.flush()
        session.add(Invoice(contract_id=contract.id or 0, month=date(2027, 1, 1), issued_at=now,
                            send_by=date(2027, 2, 10), due_date=DUE, supply_amount=100_000, vat_amount=10_000,
                            total=110_000))
        ids = (contract.id or 0, customer.id or 0)
    server = stack.create_server("dctest e2e enforced", contract_id=ids[0])
    wait_for(lambda: stack.domain_state(server["id"]) == libvirt.VIR_DOMAIN_RUNNING, what="domain running")
    return ids[0], ids[1], server["id"]


def _sweep(stack: LiveStack, clock: FixedClock, day: date) -> dict[str, list[dict[str, object]]]:
    clock.now = at_noon(day).now
    response = stack.api("POST", f"/v1/enforcement/apply?as_of={day.isoformat()}")
    assert response.status_code == 200, response.text
    result: dict[str, list[dict[str, object]]] = response.json()
    assert result["failed"] == []
    return result


def _contract_state(stack: LiveStack, contract_id: int) -> str:
    with Session(stack.engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        return contract.state


def test_unpaid_is_suspended_on_day_31_and_paid_on_day_32_runs_again(
    live: LiveStack, clock: FixedClock
) -> None:
    contract_id, customer_id, sid = _unpaid_contract_with_server(live)
    assert _sweep(live, clock, DUE + timedelta(days=30))["applied"][0]["notice"] == "restriction_warning"
    assert live.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING
    applied = _sweep(live, clock, DUE + timedelta(days=31))["applied"]
    assert {a["kind"] for a in applied} == {"restrict", "notify"}
    wait_for(lambda: live.domain_state(sid) == libvirt.VIR_DOMAIN_PAUSED, what="domain paused on day 31")

    clock.now = at_noon(DUE + timedelta(days=32)).now
    response = live.api("POST", "/v1/payments", json={
        "customer_id": customer_id, "contract_id": contract_id, "amount": 110_000,
        "idempotency_key": f"dctest-{contract_id}"})
    assert response.status_code == 201, response.text
    assert _contract_state(live, contract_id) == "active"
    wait_for(lambda: live.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="running after payment")


def test_unpaid_is_terminated_on_day_37_and_wiped(live: LiveStack, clock: FixedClock) -> None:
    with isolated_network(live.conn, f"{live.run_id}-net") as net:
        _terminated_on_day_37(live, clock, _pool_on(live, net))


def _pool_on(stack: LiveStack, net: TestNetwork) -> int:
    """An address pool on an isolated network of this host, so the server leases its one address."""
    body = {"name": f"{net.name}-pool", "cidr": str(net.subnet), "gateway": str(next(net.subnet.hosts())),
            "network_name": net.name, "host_names": [stack.host_name]}
    response = stack.api("POST", "/v1/pools", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _terminated_on_day_37(live: LiveStack, clock: FixedClock, pool_id: int) -> None:
    contract_id, _, sid = _unpaid_contract_with_server(live)
    lease = live.api("GET", f"/v1/hosts/{live.host_name}/servers/{sid}/desired-state").json()["networks"][0]
    _sweep(live, clock, DUE + timedelta(days=31))
    wait_for(lambda: live.domain_state(sid) == libvirt.VIR_DOMAIN_PAUSED, what="domain paused on day 31")
    assert _sweep(live, clock, DUE + timedelta(days=36))["applied"] == []
    applied = _sweep(live, clock, DUE + timedelta(days=37))["applied"]
    assert "terminate" in {a["kind"] for a in applied}
    assert _contract_state(live, contract_id) == "terminating"
    # Service ended, data kept: the wipe order waits for the termination notice to reach the relay.
    wait_for(lambda: live.domain_state(sid) == libvirt.VIR_DOMAIN_SHUTOFF, what="domain stopped")
    assert any(v.startswith(f"dcloud-{sid}") for v in live.volumes())
    assert any("terminated" in s for s in deliver_notices_now(live.engine, clock()))
    wait_for(lambda: live.domain_state(sid) is None, what="domain gone")
    wait_for(lambda: not any(v.startswith(f"dcloud-{sid}") for v in live.volumes()), what="volume gone")

    def record() -> DeletionRecord | None:
        with Session(live.engine) as session:
            return session.exec(select(DeletionRecord).where(DeletionRecord.server_id == sid)).first()

    wiped = wait_for(record, what="the deletion record")
    assert wiped.volumes and wiped.started_at <= wiped.finished_at
    # The server leaves the desired list once its record is in; the next sweep ends the contract.
    def completed() -> bool:
        _sweep(live, clock, DUE + timedelta(days=37))
        return _contract_state(live, contract_id) == "terminated"

    wait_for(completed, what="termination completed")
    assert _contract_state(live, contract_id) == "terminated"
    use = live.api("GET", f"/v1/pools/{pool_id}/utilisation").json()
    assert (use["assigned"], use["quarantined"]) == (0, 1)  # the address is released (Art. 20(8), 24(2))
    history = live.api("GET", f"/v1/addresses/{lease['ip']}/history").json()["holders"]
    assert [(h["server_id"], h["released_at"] is not None) for h in history] == [(sid, True)]
