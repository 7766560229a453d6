"""The serial console's control-plane half: tickets, the caller's socket, the agent's socket, the audit.

The agent's side is played by the test through the same routes a real agent uses (its token, the watch,
the stream socket); tests/e2e/test_console.py runs the real agent against a real guest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, select
from starlette.testclient import WebSocketDenialResponse

from controlplane.api.routes import console as console_routes
from controlplane.models.audit import AuditEvent
from controlplane.models.console import ConsoleSession, ConsoleTicket
from controlplane.models.enforcement import Block
from tests.api.test_server_guards import _contract
from tests.utils.api import Api


@pytest.fixture
def live(api: Api) -> Iterator[Api]:
    """One event loop for every socket of the test (the relay pairs them in memory)."""
    with api.client:
        yield api


def _server(api: Api, **extra: Any) -> str:
    api.add_host("hv1")
    return str(api.add_server("web", **extra)["id"])


def _ticket(api: Api, server_id: str, role: str = "operator") -> dict[str, Any]:
    response = api.call("POST", f"/v1/servers/{server_id}/console-tickets", role=role)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _orders(api: Api, seen: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"wait_s": 0, "seen": list(seen)}
    response = api.call("GET", "/v1/hosts/hv1/console-sessions/watch", role="agent:hv1", params=params)
    assert response.status_code == 200, response.text
    sessions: list[dict[str, Any]] = response.json()["sessions"]
    return sessions


def _stream_path(order: dict[str, Any]) -> str:
    return urlsplit(order["stream_url"]).path


def _denied(api: Api, path: str, headers: dict[str, str] | None = None) -> WebSocketDenialResponse:
    """The HTTP refusal of a WebSocket that never opens."""
    connect = api.client.websocket_connect
    with pytest.raises(WebSocketDenialResponse) as denied, connect(path, headers=headers or {}):
        pass
    return denied.value


def _full_block(api: Api, contract_id: int) -> None:
    with Session(api.engine) as session:
        session.add(
            Block(
                contract_id=contract_id,
                kind="nonpayment",
                scope="full",
                clause="Art. 33(1)",
                reason="unpaid 30 days after due",
                started_at=api.clock(),
                created_by="test",
            )
        )
        session.commit()


def test_console_relays_bytes_both_ways_between_caller_and_agent(live: Api) -> None:
    server_id = _server(live)
    ticket = _ticket(live, server_id)
    with live.client.websocket_connect(ticket["path"]) as caller:
        (order,) = _orders(live)
        assert order["server_id"] == server_id
        agent_auth = live.headers("agent:hv1")
        with live.client.websocket_connect(_stream_path(order), headers=agent_auth) as agent:
            caller.send_bytes(b"root\r")
            assert agent.receive_bytes() == b"root\r"
            agent.send_bytes(b"\r\nweb login: ")
            assert caller.receive_bytes() == b"\r\nweb login: "


def test_ticket_is_returned_once_and_only_its_hash_is_stored(live: Api) -> None:
    server_id = _server(live)
    ticket = _ticket(live, server_id)["ticket"]
    with Session(live.engine) as session:
        (row,) = session.exec(select(ConsoleTicket)).all()
    assert ticket not in row.ticket_hash and len(row.ticket_hash) == 64
    assert row.expires_at - row.created_at == timedelta(seconds=live.settings.console_ticket_ttl_s)


def test_a_ticket_opens_one_session_only(live: Api) -> None:
    server_id = _server(live)
    path = _ticket(live, server_id)["path"]
    with live.client.websocket_connect(path):
        assert _denied(live, path).status_code == 401


def test_an_expired_ticket_is_refused(live: Api) -> None:
    server_id = _server(live)
    path = _ticket(live, server_id)["path"]
    live.clock.advance(seconds=live.settings.console_ticket_ttl_s + 1)
    with pytest.raises(WebSocketDenialResponse) as denied, live.client.websocket_connect(path):
        pass
    assert denied.value.status_code == 401
    assert _orders(live) == []


def test_a_ticket_for_one_server_does_not_open_another(live: Api) -> None:
    server_id = _server(live)
    other = str(live.add_server("other")["id"])
    ticket = _ticket(live, server_id)["ticket"]
    assert _denied(live, f"/v1/servers/{other}/console?ticket={ticket}").status_code == 401


def test_a_fully_restricted_server_gets_no_ticket_and_the_refusal_names_the_clause(live: Api) -> None:
    contract_id = _contract(live)
    server_id = _server(live, contract_id=contract_id)
    _full_block(live, contract_id)
    response = live.call("POST", f"/v1/servers/{server_id}/console-tickets", role="operator")
    assert response.status_code == 409
    assert "Art. 33(1)" in response.json()["detail"]
    assert live.count(ConsoleTicket) == 0


def test_a_block_that_starts_after_the_ticket_refuses_the_socket(live: Api) -> None:
    contract_id = _contract(live)
    server_id = _server(live, contract_id=contract_id)
    path = _ticket(live, server_id)["path"]
    _full_block(live, contract_id)
    with pytest.raises(WebSocketDenialResponse) as denied, live.client.websocket_connect(path):
        pass
    assert denied.value.status_code == 409
    assert "Art. 33(1)" in denied.value.json()["detail"]
    assert live.count(ConsoleSession) == 0


def test_an_smtp_only_restriction_leaves_the_console_open(live: Api) -> None:
    contract_id = _contract(live)
    server_id = _server(live, contract_id=contract_id)
    with Session(live.engine) as session:
        session.add(
            Block(
                contract_id=contract_id,
                kind="spam",
                scope="smtp",
                clause="Art. 16(4)-3",
                item=3,
                reason="spam reports",
                started_at=live.clock(),
                created_by="test",
            )
        )
        session.commit()
    _ticket(live, server_id)


def test_an_open_session_is_cut_when_a_full_block_starts(live: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_routes, "RESTRICTION_RECHECK_S", 0.05)
    contract_id = _contract(live)
    server_id = _server(live, contract_id=contract_id)
    with live.client.websocket_connect(_ticket(live, server_id)["path"]) as caller:
        (order,) = _orders(live)
        with live.client.websocket_connect(_stream_path(order), headers=live.headers("agent:hv1")):
            _full_block(live, contract_id)
            message = caller.receive()
    assert message["type"] == "websocket.close"
    assert "Art. 33(1)" in message["reason"]


def test_a_session_is_audited_with_who_when_and_how_long(live: Api) -> None:
    server_id = _server(live)
    with live.client.websocket_connect(_ticket(live, server_id)["path"]) as caller:
        (order,) = _orders(live)
        with live.client.websocket_connect(_stream_path(order), headers=live.headers("agent:hv1")) as agent:
            caller.send_bytes(b"x")
            agent.receive_bytes()
            live.clock.advance(seconds=42)
    with Session(live.engine) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.entity_id == server_id).order_by(AuditEvent.id)  # type: ignore[arg-type]
        ).all()
    actions = [e.action for e in events]
    assert actions[-3:] == ["console_ticket", "console_open", "console_close"]
    opened, closed = events[-2], events[-1]
    assert opened.actor == closed.actor == "operator:operator-token"
    assert closed.after is not None and closed.after["duration_s"] == 42.0
    assert closed.after["bytes_from_client"] == 1


@pytest.mark.parametrize("role", ["billing", "auditor", "disclosure"])
def test_roles_that_do_not_run_servers_get_no_console(live: Api, role: str) -> None:
    server_id = _server(live)
    response = live.call("POST", f"/v1/servers/{server_id}/console-tickets", role=role)
    assert response.status_code == 403


def test_an_unknown_server_has_no_console(live: Api) -> None:
    response = live.call("POST", "/v1/servers/nosuchserver/console-tickets", role="operator")
    assert response.status_code == 404


def test_the_agent_of_another_host_cannot_attach(live: Api) -> None:
    server_id = _server(live)
    live.add_host("hv2")
    with live.client.websocket_connect(_ticket(live, server_id)["path"]):
        (order,) = _orders(live)
        denied = _denied(live, _stream_path(order), headers=live.headers("agent:hv2"))
    assert denied.status_code == 403


def test_the_watch_leaves_out_sessions_the_agent_has_seen(live: Api) -> None:
    server_id = _server(live)
    with live.client.websocket_connect(_ticket(live, server_id)["path"]):
        (order,) = _orders(live)
        assert _orders(live, seen=(order["session_id"],)) == []


def test_a_caller_whose_host_never_attaches_is_closed_with_the_reason(live: Api) -> None:
    live.settings.console_attach_timeout_s = 0.2
    server_id = _server(live)
    with live.client.websocket_connect(_ticket(live, server_id)["path"]) as caller:
        message = caller.receive()
    assert message["type"] == "websocket.close"
    assert "did not attach" in message["reason"]
    with Session(live.engine) as session:
        (row,) = session.exec(select(ConsoleSession)).all()
    assert row.state == "closed" and row.close_reason is not None
