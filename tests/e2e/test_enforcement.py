"""Enforcement end to end: the real API (uvicorn) and the real agent against `qemu:///system`, time moved by
the injected clock. Unpaid 30 days after due -> the domain is paused; paid on day 32 -> running again;
left unpaid -> terminated on day 35: domain and volume gone, deletion record stored, contract ended.
An insolvency termination proposed by billing touches nothing (domain running, disk bytes intact) until a
second operator confirms; then the server stops, and is wiped only once the notice reached the relay."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import libvirt
import pytest
from sqlmodel import Session, select

from controlplane.clock import FixedClock
from controlplane.db import session_scope
from controlplane.models import Contract, Customer, DeletionRecord, Invoice
from controlplane.models.auth import Role
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
        customer = Customer(
            name="dctest e2e 고객",
            email="dctest@example.kr",
            address="서울",
            contact_name="김",
            contact_phone="02-555-0101",
            created_at=now,
        )
        session.add(customer)
        session.flush()
        contract = Contract(
            customer_id=customer.id or 0,
            state="active",
            plan="std-1",
            monthly_fee=100_000,
            desired_open_date=date(2027, 1, 1),
            term_start=date(2027, 1, 1),
            term_end=date(2027, 12, 31),
            terms_version="2025-01",
            created_at=now,
            updated_at=now,
        )
        session.add(contract)
        session.flush()
        session.add(
            Invoice(
                contract_id=contract.id or 0,
                month=date(2027, 1, 1),
                issued_at=now,
                send_by=date(2027, 2, 10),
                due_date=DUE,
                supply_amount=100_000,
                vat_amount=10_000,
                total=110_000,
            )
        )
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
    response = live.api(
        "POST",
        "/v1/payments",
        json={
            "customer_id": customer_id,
            "contract_id": contract_id,
            "amount": 110_000,
            "idempotency_key": f"dctest-{contract_id}",
        },
    )
    assert response.status_code == 201, response.text
    assert _contract_state(live, contract_id) == "active"
    wait_for(lambda: live.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="running after payment")


def test_unpaid_is_terminated_on_day_37_and_wiped(live: LiveStack, clock: FixedClock) -> None:
    with isolated_network(live.conn, f"{live.run_id}-net") as net:
        _terminated_on_day_37(live, clock, _pool_on(live, net))


def _deletion_record(stack: LiveStack, server_id: str) -> DeletionRecord | None:
    with Session(stack.engine) as session:
        return session.exec(select(DeletionRecord).where(DeletionRecord.server_id == server_id)).first()


def _pool_on(stack: LiveStack, net: TestNetwork) -> int:
    """An address pool on an isolated network of this host, so the server leases its one address."""
    body = {
        "name": f"{net.name}-pool",
        "cidr": str(net.subnet),
        "gateway": str(next(net.subnet.hosts())),
        "network_name": net.name,
        "host_names": [stack.host_name],
    }
    stack.wait_for_reported_network(net.name)
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

    wiped = wait_for(lambda: _deletion_record(live, sid), what="the deletion record")
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


# One recognisable 4 KiB block, 1 MiB into the disk: clear of the boot sector the firmware reads.
MARKER_OFFSET = 1024 * 1024
MARKER = b"dctest-e2e customer data ".ljust(4096, b"#")


def _write_marker(path: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        assert os.pwrite(fd, MARKER, MARKER_OFFSET) == len(MARKER)
        os.fsync(fd)
    finally:
        os.close(fd)


def _disk_intact(stack: LiveStack, volumes: list[str]) -> bool:
    """Every volume is still in the pool and the disk still holds the customer's bytes."""
    if sorted(v for v in stack.volumes() if v in volumes) != volumes:
        return False
    with open(stack.volume_path(volumes[0]), "rb") as disk:
        return os.pread(disk.fileno(), len(MARKER), MARKER_OFFSET) == MARKER


def _stays(predicate: Callable[[], bool], *, seconds: float = 2.0) -> bool:
    """True when `predicate` holds throughout `seconds` (several agent polls and watch wake-ups)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(0.2)
    return predicate()


def _confirm_is_refused(stack: LiveStack, tid: int, sid: str, *, tokens: tuple[str, ...]) -> None:
    """Two-person rule: each token's confirmation is a 409 naming the rule, and nothing starts."""
    for token in tokens:
        refused = stack.api("POST", f"/v1/terminations/{tid}/confirm", token=token)
        assert refused.status_code == 409, refused.text
        assert "two-person rule" in refused.json()["detail"]
    pending = stack.api("GET", f"/v1/terminations/{tid}").json()
    assert (pending["confirmed_by"], pending["started_at"], pending["wipe_ordered_at"]) == (None, None, None)
    assert stack.api("GET", f"/v1/servers/{sid}").json()["desired_state"] == "running"


def test_insolvency_proposed_by_billing_wipes_nothing_until_a_second_operator_confirms(
    live: LiveStack, clock: FixedClock
) -> None:
    contract_id, _, sid = _unpaid_contract_with_server(live)
    volumes = sorted(v for v in live.volumes() if v.startswith(f"dcloud-{sid}-"))
    assert volumes == [f"dcloud-{sid}-disk0"]
    _write_marker(live.volume_path(volumes[0]))
    billing = live.token_for(Role.BILLING, name="e2e-billing")
    other_billing = live.token_for(Role.BILLING, name="e2e-billing-2")
    operator = live.token_for(Role.OPERATOR, name="e2e-operator")

    def kept(state: int = libvirt.VIR_DOMAIN_RUNNING) -> bool:
        return live.domain_state(sid) == state and _disk_intact(live, volumes)

    proposed = live.api(
        "POST",
        f"/v1/contracts/{contract_id}/terminations",
        token=billing,
        json={"kind": "insolvency", "reason": "dctest: bankruptcy declared"},
    )
    assert proposed.status_code == 201, proposed.text
    tid = proposed.json()["id"]
    assert proposed.json()["confirmed_by"] is None and proposed.json()["started_at"] is None
    assert _stays(kept), "a proposal alone stopped or wiped the server"
    assert "terminate" not in {a["kind"] for a in _sweep(live, clock, DUE + timedelta(days=10))["applied"]}
    assert _stays(kept), "the sweep acted on an unconfirmed proposal"

    _confirm_is_refused(live, tid, sid, tokens=(billing, other_billing))
    assert _contract_state(live, contract_id) == "active"
    assert _stays(kept), "a refused confirmation changed the server"

    confirmed = live.api("POST", f"/v1/terminations/{tid}/confirm", token=operator)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed_by"] == "operator:e2e-operator"
    assert _contract_state(live, contract_id) == "terminating"
    off = (libvirt.VIR_DOMAIN_SHUTOFF, None)
    wait_for(lambda: live.domain_state(sid) in off, what="domain off on confirm")
    # Service ended, data kept: nothing is wiped before the customer's notice reached the relay.
    assert _stays(lambda: kept(libvirt.VIR_DOMAIN_SHUTOFF)), "wiped before the notice reached the relay"

    assert any("terminated" in s for s in deliver_notices_now(live.engine, clock()))
    wait_for(lambda: live.domain_state(sid) is None, what="domain gone after the notice")
    wait_for(lambda: not any(v.startswith(f"dcloud-{sid}") for v in live.volumes()), what="volumes gone")

    wiped = wait_for(lambda: _deletion_record(live, sid), what="the deletion record")
    assert sorted(v["name"] for v in wiped.volumes) == volumes
    assert wiped.bytes_overwritten == sum(int(v["bytes_overwritten"]) for v in wiped.volumes)
    assert wiped.bytes_overwritten >= len(MARKER)  # at least the customer's block was overwritten
