"""Factories for the workflow tests: a customer's contract with servers, read back as the agent sees them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.models.workflows import FeeIncrease
from controlplane.protocol import DesiredServer
from tests.utils.api import Api
from tests.utils.factories import make_contract, make_customer


def contract_with_servers(api: Api, servers: int = 2, **contract: object) -> tuple[int, list[str]]:
    """An active 2027 contract with `servers` servers on host hv1 (registered here if missing)."""
    if api.call("GET", "/v1/hosts/hv1").status_code != 200:
        api.add_host("hv1")
    with Session(api.engine, expire_on_commit=False) as session:
        customer = make_customer(session)
        row = make_contract(session, customer, **contract)
        session.commit()
        contract_id = row.id or 0
    ids = [api.add_server(f"web{i}", contract_id=contract_id)["id"] for i in range(servers)]
    return contract_id, ids


def desired(api: Api, host: str = "hv1") -> dict[str, DesiredServer]:
    """Server id -> the desired state the host's agent is served."""
    response = api.call("GET", f"/v1/hosts/{host}/desired-state", role=f"agent:{host}")
    assert response.status_code == 200, response.text
    return {s["id"]: DesiredServer.model_validate(s) for s in response.json()["servers"]}


def block(api: Api, contract_id: int, **fields: Any) -> Any:
    body = {
        "kind": "security",
        "reason": "infected",
        "notice": "after",
        "notice_after_reason": "ongoing",
        **fields,
    }
    return api.call("POST", f"/v1/contracts/{contract_id}/blocks", role="operator", json=body)


def lift(api: Api, block_id: int) -> Any:
    return api.call("POST", f"/v1/blocks/{block_id}/lift", role="operator", json={"reason": "cured"})


OPEN = date(2027, 1, 1)


def refused_fee_increase(engine: Engine, contract_id: int) -> None:
    """A fee increase the customer refused (Art. 17(3)): what opens the penalty-free termination."""
    at = datetime(2027, 2, 1, tzinfo=UTC)
    with Session(engine) as session:
        session.add(
            FeeIncrease(
                contract_id=contract_id,
                effective_from=date(2027, 4, 1),
                old_monthly_fee=100_000,
                new_monthly_fee=120_000,
                reason="costs",
                proposed_at=at,
                proposed_by="test",
                answer="refused",
                answered_at=at,
                answered_by="test",
            )
        )
        session.commit()
