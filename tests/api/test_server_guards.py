"""A contract's restrictions and termination rules hold against plain server actions."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session

from controlplane.models import Contract, Customer
from controlplane.models.enforcement import Block, Termination
from tests.utils.api import Api


def _contract(api: Api, state: str = "active") -> int:
    now = api.clock()
    with Session(api.engine, expire_on_commit=False) as session:
        customer = Customer(
            name="dctest co",
            email="ops@example.kr",
            address="Seoul",
            contact_name="Kim",
            contact_phone="02-555-0101",
            created_at=now,
        )
        session.add(customer)
        session.flush()
        contract = Contract(
            customer_id=customer.id or 0,
            state=state,
            plan="std",
            monthly_fee=100_000,
            desired_open_date=date(2027, 1, 1),
            terms_version="2025-01",
            created_at=now,
            updated_at=now,
        )
        session.add(contract)
        session.commit()
        return contract.id or 0


def _set_contract_state(api: Api, contract_id: int, state: str) -> None:
    with Session(api.engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        contract.state = state
        session.add(contract)
        session.commit()


def _block(api: Api, contract_id: int, *, scope: str = "full") -> int:
    with Session(api.engine, expire_on_commit=False) as session:
        block = Block(
            contract_id=contract_id,
            kind="nonpayment",
            scope=scope,
            clause="Art. 33(1)",
            reason="unpaid 30 days after due",
            started_at=api.clock(),
            created_by="test",
        )
        session.add(block)
        session.commit()
        return block.id or 0


def _lift(api: Api, block_id: int) -> None:
    with Session(api.engine) as session:
        block = session.get(Block, block_id)
        assert block is not None
        block.lifted_at = api.clock()
        session.add(block)
        session.commit()


def test_resume_is_refused_while_a_full_block_covers_the_contract(api: Api) -> None:
    api.add_host("hv1")
    contract_id = _contract(api)
    server = api.add_server("web", contract_id=contract_id)
    assert api.call("POST", f"/v1/servers/{server['id']}/suspend", role="operator").status_code == 200
    block_id = _block(api, contract_id)

    refused = api.call("POST", f"/v1/servers/{server['id']}/resume", role="operator")

    assert refused.status_code == 409
    assert f"block {block_id}" in refused.json()["detail"]
    assert api.call("GET", f"/v1/servers/{server['id']}").json()["desired_state"] == "suspended"


def test_resume_is_allowed_once_the_block_is_lifted(api: Api) -> None:
    api.add_host("hv1")
    contract_id = _contract(api)
    server = api.add_server("web", contract_id=contract_id)
    api.call("POST", f"/v1/servers/{server['id']}/suspend", role="operator")
    _lift(api, _block(api, contract_id))

    response = api.call("POST", f"/v1/servers/{server['id']}/resume", role="operator")

    assert response.status_code == 200
    assert response.json()["desired_state"] == "running"


def test_an_smtp_only_block_does_not_stop_a_resume(api: Api) -> None:
    api.add_host("hv1")
    contract_id = _contract(api)
    server = api.add_server("web", contract_id=contract_id)
    api.call("POST", f"/v1/servers/{server['id']}/suspend", role="operator")
    _block(api, contract_id, scope="smtp")

    assert api.call("POST", f"/v1/servers/{server['id']}/resume", role="operator").status_code == 200


def test_deleting_a_server_of_an_active_contract_is_refused(api: Api) -> None:
    api.add_host("hv1")
    server = api.add_server("web", contract_id=_contract(api))

    refused = api.call("DELETE", f"/v1/servers/{server['id']}", role="operator")

    assert refused.status_code == 409
    assert "'active'" in refused.json()["detail"]
    assert api.call("GET", f"/v1/servers/{server['id']}").json()["desired_state"] == "running"


def test_deleting_a_server_of_a_terminating_contract_is_accepted(api: Api) -> None:
    api.add_host("hv1")
    contract_id = _contract(api)
    server = api.add_server("web", contract_id=contract_id)
    _set_contract_state(api, contract_id, "terminating")

    assert api.call("DELETE", f"/v1/servers/{server['id']}", role="operator").status_code == 202


def test_agent_is_told_to_stop_not_wipe_when_the_contract_left_terminating(api: Api) -> None:
    api.add_host("hv1")
    contract_id = _contract(api)
    server = api.add_server("web", contract_id=contract_id)
    _set_contract_state(api, contract_id, "terminating")
    api.call("DELETE", f"/v1/servers/{server['id']}", role="operator")
    _set_contract_state(api, contract_id, "active")  # e.g. a termination reversed before the wipe ran

    one = api.call("GET", f"/v1/hosts/hv1/servers/{server['id']}/desired-state", role="agent:hv1").json()
    listed = api.call("GET", "/v1/hosts/hv1/desired-state", role="agent:hv1").json()["servers"]

    assert one["desired_state"] == "stopped"
    assert [s["desired_state"] for s in listed if s["id"] == server["id"]] == ["stopped"]


def _terminating(api: Api, contract_id: int, *, wipe_ordered: bool) -> None:
    """The contract is terminating; `wipe_ordered` once its termination notice reached the relay."""
    _set_contract_state(api, contract_id, "terminating")
    now = datetime(2027, 3, 1, tzinfo=UTC)
    with Session(api.engine) as session:
        session.add(
            Termination(
                contract_id=contract_id,
                kind="insolvency",
                clause="Art. 20(5)",
                reason="t",
                requested_at=now,
                effective_on=now.date(),
                decided_by="billing:a",
                confirmed_by="operator:b",
                started_at=now,
                wipe_ordered_at=now if wipe_ordered else None,
            )
        )
        session.commit()


def test_agent_is_told_to_wipe_while_the_contract_is_terminating_and_the_notice_is_out(api: Api) -> None:
    api.add_host("hv1")
    contract_id = _contract(api)
    server = api.add_server("web", contract_id=contract_id)
    _terminating(api, contract_id, wipe_ordered=True)
    api.call("DELETE", f"/v1/servers/{server['id']}", role="operator")

    one = api.call("GET", f"/v1/hosts/hv1/servers/{server['id']}/desired-state", role="agent:hv1").json()

    assert one["desired_state"] == "deleted"


def test_agent_is_not_told_to_wipe_before_the_termination_notice_is_out(api: Api) -> None:
    api.add_host("hv1")
    contract_id = _contract(api)
    server = api.add_server("web", contract_id=contract_id)
    _terminating(api, contract_id, wipe_ordered=False)
    api.call("DELETE", f"/v1/servers/{server['id']}", role="operator")

    one = api.call("GET", f"/v1/hosts/hv1/servers/{server['id']}/desired-state", role="agent:hv1").json()

    assert one["desired_state"] == "stopped"
