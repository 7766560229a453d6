"""The irreversible path through the API: two people before a wipe, no termination before its date,
deletion records only for servers ordered deleted, and credit counted as money paid (Art. 20, 21, 35)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.db import session_scope
from controlplane.models import AuditEvent, Contract, Server, Termination
from controlplane.models.auth import Role
from controlplane.services.enforcement import sweep as enforcement
from tests.utils.api import Api, make_api
from tests.utils.factories import make_invoice, make_world, noon
from tests.utils.terminations import deliver_notices_now

TODAY = date(2027, 3, 2)  # the 2027-02-28 invoice of make_invoice is overdue


@pytest.fixture
def api(sqlite_engine: Engine) -> Api:
    harness = make_api(sqlite_engine)
    harness.clock.now = noon(TODAY)
    harness.tokens["operator-2"] = harness.token_for(Role.OPERATOR, name="second-operator")
    return harness


def _contract(engine: Engine, *, unpaid: bool = True) -> tuple[int, list[str]]:
    with session_scope(engine) as session:
        contract, servers = make_world(session)
        if unpaid:
            make_invoice(session, contract)
        return contract.id or 0, [s.id for s in servers]


def _report(api: Api, body: dict[str, object]) -> Any:
    """POSTs an observed-state report with the host's own agent token."""
    if "agent:dctest-host" not in api.tokens:
        api.tokens["agent:dctest-host"] = api.token_for(Role.AGENT, host="dctest-host", name="agent-h")
    return api.call("POST", "/v1/hosts/dctest-host/observed-state", role="agent:dctest-host", json=body)


def _desired(engine: Engine, contract_id: int) -> tuple[str, list[str]]:
    with Session(engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        servers = session.exec(select(Server).where(Server.contract_id == contract_id)).all()
        return contract.state, sorted(s.desired_state for s in servers)


def _propose(api: Api, contract_id: int, *, role: str = "billing", kind: str = "insolvency") -> int:
    response = api.call(
        "POST",
        f"/v1/contracts/{contract_id}/terminations",
        role=role,
        json={"kind": kind, "reason": "bankruptcy declared"},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _sweep(api: Api, day: date) -> None:
    with Session(api.engine) as session:
        actions = enforcement.plan(session, day, now=noon(day))
    enforcement.apply(api.engine, actions, day, "system:sweep", now=noon(day))


def test_proposed_insolvency_deletes_nothing_until_a_second_operator_confirms(api: Api) -> None:
    contract_id, _ = _contract(api.engine)
    termination_id = _propose(api, contract_id)
    _sweep(api, TODAY)
    assert _desired(api.engine, contract_id) == ("active", ["running", "running"])

    confirmed = api.call("POST", f"/v1/terminations/{termination_id}/confirm", role="operator")

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed_by"].startswith("operator:")
    assert _desired(api.engine, contract_id) == ("terminating", ["stopped", "stopped"])


def test_confirmation_by_billing_is_refused_naming_the_two_person_rule(api: Api) -> None:
    contract_id, _ = _contract(api.engine)
    termination_id = _propose(api, contract_id, role="operator")

    refused = api.call("POST", f"/v1/terminations/{termination_id}/confirm", role="billing")

    assert refused.status_code == 409 and "two-person rule" in refused.json()["detail"]
    assert _desired(api.engine, contract_id) == ("active", ["running", "running"])


def test_confirmation_by_the_proposers_own_token_is_refused(api: Api) -> None:
    contract_id, _ = _contract(api.engine)
    termination_id = _propose(api, contract_id, role="operator")

    refused = api.call("POST", f"/v1/terminations/{termination_id}/confirm", role="operator")

    assert refused.status_code == 409, refused.text
    assert "proposed by this token" in refused.json()["detail"]
    second = api.call("POST", f"/v1/terminations/{termination_id}/confirm", role="operator-2")
    assert second.status_code == 200, second.text


def test_confirmation_of_a_paid_up_contract_is_refused(api: Api) -> None:
    contract_id, _ = _contract(api.engine, unpaid=False)
    termination_id = _propose(api, contract_id, kind="ex_officio")

    refused = api.call("POST", f"/v1/terminations/{termination_id}/confirm", role="operator")

    assert refused.status_code == 409 and "paid up" in refused.json()["detail"]
    assert _desired(api.engine, contract_id) == ("active", ["running", "running"])


def test_customer_termination_never_acts_before_its_last_day_has_ended(api: Api) -> None:
    contract_id, _ = _contract(api.engine, unpaid=False)
    last_day = TODAY + timedelta(days=18)
    response = api.call(
        "POST",
        f"/v1/contracts/{contract_id}/terminations",
        role="billing",
        json={"kind": "customer_request", "reason": "moving", "effective_on": str(last_day)},
    )
    assert response.status_code == 201, response.text
    termination_id = response.json()["id"]

    confirm = api.call("POST", f"/v1/terminations/{termination_id}/confirm", role="operator")
    _sweep(api, TODAY)
    _sweep(api, last_day)

    assert confirm.status_code == 409
    assert _desired(api.engine, contract_id) == ("active", ["running", "running"])
    _sweep(api, last_day + timedelta(days=1))
    assert _desired(api.engine, contract_id) == ("terminating", ["stopped", "stopped"])


def test_customer_termination_withdrawn_before_its_date_leaves_the_contract_running(api: Api) -> None:
    contract_id, _ = _contract(api.engine, unpaid=False)
    last_day = TODAY + timedelta(days=10)
    created = api.call(
        "POST",
        f"/v1/contracts/{contract_id}/terminations",
        role="billing",
        json={"kind": "customer_request", "reason": "moving", "effective_on": str(last_day)},
    )
    termination_id = created.json()["id"]

    withdrawn = api.call(
        "POST",
        f"/v1/terminations/{termination_id}/withdraw",
        role="billing",
        json={"reason": "the customer stays"},
    )
    _sweep(api, last_day + timedelta(days=1))

    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_at"] is not None
    assert _desired(api.engine, contract_id) == ("active", ["running", "running"])


def test_customer_termination_date_after_the_contract_end_is_refused(api: Api) -> None:
    contract_id, _ = _contract(api.engine, unpaid=False)
    with session_scope(api.engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        contract.term_start, contract.term_end = date(2027, 1, 1), date(2027, 12, 31)
        session.add(contract)

    refused = api.call(
        "POST",
        f"/v1/contracts/{contract_id}/terminations",
        role="billing",
        json={"kind": "customer_request", "reason": "x", "effective_on": "2028-01-15"},
    )

    assert refused.status_code == 422 and refused.json()["field"] == "effective_on"


def _forged_report(server_id: str) -> dict[str, object]:
    disk = {
        "name": f"dcloud-{server_id}-disk0",
        "path": "/var/lib/x",
        "capacity_bytes": 1 << 30,
        "bytes_overwritten": 1 << 30,
    }
    return {
        "servers": [],
        "orphans": [],
        "full": False,
        "deletions": [
            {
                "server_id": server_id,
                "domain_name": f"dcloud-{server_id}",
                "volumes": [disk],
                "bytes_overwritten": 1 << 30,
                "method": "zero",
                "started_at": "2027-03-02T03:00:00Z",
                "finished_at": "2027-03-02T03:01:00Z",
            }
        ],
    }


def test_forged_deletion_report_for_a_running_server_is_refused_and_changes_nothing(api: Api) -> None:
    _, server_ids = _contract(api.engine)

    refused = _report(api, _forged_report(server_ids[0]))

    assert refused.status_code == 409 and refused.json()["field"] == "deletions"
    with Session(api.engine) as session:
        server = session.get(Server, server_ids[0])
        assert server is not None and server.deleted_at is None and server.desired_state == "running"
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "deletion_refused")).one()
        assert audit.entity_id == server_ids[0]
    metrics = api.call("GET", "/metrics", role=None).text
    assert "dcloud_deletion_records_refused_total 1.0" in metrics


def test_deletion_report_is_accepted_once_the_wipe_was_ordered(api: Api) -> None:
    contract_id, server_ids = _contract(api.engine)
    termination_id = _propose(api, contract_id)
    assert api.call("POST", f"/v1/terminations/{termination_id}/confirm", role="operator").status_code == 200
    early = _report(api, _forged_report(server_ids[0]))
    assert early.status_code == 409  # stopped, not yet ordered deleted: the notice is still queued
    deliver_notices_now(api.engine, noon(TODAY))

    accepted = _report(api, _forged_report(server_ids[0]))

    assert accepted.status_code == 204, accepted.text
    with Session(api.engine) as session:
        server = session.get(Server, server_ids[0])
        assert server is not None and server.deleted_at is not None
        assert session.exec(select(Termination)).one().wipe_ordered_at is not None


def test_customer_with_credit_covering_arrears_on_another_contract_is_not_restricted(api: Api) -> None:
    contract_id, _ = _contract(api.engine)  # 110,000 due 2027-02-28, unpaid
    with session_scope(api.engine) as session:
        customer_id = session.get(Contract, contract_id).customer_id  # type: ignore[union-attr]
        other = Contract(
            customer_id=customer_id,
            state="active",
            plan="std",
            monthly_fee=50_000,
            desired_open_date=date(2027, 1, 1),
            terms_version="2025-01",
            created_at=noon(TODAY),
            updated_at=noon(TODAY),
        )
        session.add(other)
        session.flush()
        other_id = other.id
    api.clock.now = noon(date(2027, 3, 20))
    paid = api.call(
        "POST",
        "/v1/payments",
        role="billing",
        json={
            "customer_id": customer_id,
            "contract_id": other_id,
            "amount": 200_000,
            "idempotency_key": "dctest-credit",
        },
    )
    assert paid.status_code == 201, paid.text

    _sweep(api, date(2027, 3, 31))  # the restriction day of the 2027-02-28 invoice

    assert _desired(api.engine, contract_id) == ("active", ["running", "running"])


def test_a_wiped_contract_with_arrears_is_listed_for_collection_awaiting_settlement(api: Api) -> None:
    contract_id, server_ids = _contract(api.engine)
    termination_id = _propose(api, contract_id)
    assert api.call("POST", f"/v1/terminations/{termination_id}/confirm", role="operator").status_code == 200
    deliver_notices_now(api.engine, noon(TODAY))
    for server_id in server_ids:
        assert _report(api, _forged_report(server_id)).status_code == 204
    _sweep(api, TODAY)

    listed = api.call("GET", "/v1/terminations?status=awaiting_settlement", role="auditor")

    assert listed.status_code == 200
    assert [(t["id"], t["status"]) for t in listed.json()] == [(termination_id, "awaiting_settlement")]
    assert _desired(api.engine, contract_id)[0] == "terminated"
