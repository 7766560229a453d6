"""suspend-and-resume bookkeeping on both stores, the agent's reports played by hand: each server's save
and restore is recorded, the window completes only once every server is back, and a server whose
contract was restricted during the window stays suspended for the block to release (Art. 16(5))."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from controlplane.db import session_scope
from controlplane.models.enforcement import Block
from controlplane.models.maintenance import MaintenanceServerRecord, MaintenanceWindow
from controlplane.models.server import Server
from controlplane.schemas.maintenance import WindowCreate
from controlplane.services.fleet.maintenance_run import advance_windows
from controlplane.services.fleet.maintenance_windows import create_window
from tests.utils.factories import make_contract, make_customer, make_host, make_server
from tests.utils.maintenance import seoul

START, END = seoul("2027-03-03 01:00"), seoul("2027-03-03 03:00")


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    found: Engine = request.getfixturevalue(name)
    return found


def _setup(engine: Engine) -> tuple[int, list[str], int]:
    with session_scope(engine) as session:
        host = make_host(session, "dctest-hv1")
        contract = make_contract(session, make_customer(session))
        servers = [
            make_server(session, host, contract, f"dctest-{i}", observed_state="running") for i in range(2)
        ]
        stopped = make_server(session, host, contract, "dctest-off", desired_state="stopped")
        ids = [s.id for s in servers]
        contract_id, stopped_id = contract.id or 0, stopped.id
    with Session(engine) as session:
        data = WindowCreate.model_validate(
            {
                "kind": "irregular",
                "action": "suspend-and-resume",
                "reason": "firmware",
                "starts_at": START,
                "ends_at": END,
                "hosts": ["dctest-hv1"],
            }
        )
        window = create_window(session, data=data, now=seoul("2027-03-02 12:00"), actor="test")
        assert stopped_id not in ids
        return window.id or 0, ids, contract_id


def _observe(engine: Engine, server_ids: list[str], state: str) -> None:
    with session_scope(engine) as session:
        session.execute(update(Server).where(col(Server.id).in_(server_ids)).values(observed_state=state))


def _outcomes(engine: Engine, window_id: int) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.exec(
            select(MaintenanceServerRecord).where(MaintenanceServerRecord.window_id == window_id)
        )
        return {r.server_id: r.outcome for r in rows}


def _desired(engine: Engine, server_id: str) -> tuple[str, bool]:
    with Session(engine) as session:
        server = session.get(Server, server_id)
        assert server is not None
        return server.desired_state, server.suspended_for_maintenance


def _state(engine: Engine, window_id: int) -> str:
    with Session(engine) as session:
        window = session.get(MaintenanceWindow, window_id)
        assert window is not None
        return window.state


def test_only_running_servers_are_saved_and_each_restore_is_recorded(engine: Engine) -> None:
    window_id, ids, _ = _setup(engine)
    advance_windows(engine, now=START)
    assert _outcomes(engine, window_id) == dict.fromkeys(ids, "pending")  # the stopped one is left alone
    assert _desired(engine, ids[0]) == ("suspended", True)
    _observe(engine, ids, "saved")
    advance_windows(engine, now=START)
    assert _outcomes(engine, window_id) == dict.fromkeys(ids, "saved")
    advance_windows(engine, now=END)
    assert _desired(engine, ids[0]) == ("running", False)
    assert _state(engine, window_id) == "in_progress"  # not complete until the agent reports them back
    _observe(engine, ids, "running")
    advance_windows(engine, now=END)
    assert _outcomes(engine, window_id) == dict.fromkeys(ids, "restored")
    assert _state(engine, window_id) == "completed"


def test_a_server_restricted_during_the_window_stays_suspended_for_the_block(engine: Engine) -> None:
    window_id, ids, contract_id = _setup(engine)
    advance_windows(engine, now=START)
    _observe(engine, ids, "saved")
    with session_scope(engine) as session:
        session.add(
            Block(
                contract_id=contract_id,
                kind="nonpayment",
                clause="Art. 33(1)",
                reason="unpaid",
                started_at=START,
                created_by="test",
            )
        )
    advance_windows(engine, now=END)
    assert _outcomes(engine, window_id) == dict.fromkeys(ids, "left_suspended")
    with Session(engine) as session:
        server = session.get(Server, ids[0])
        assert server is not None
        assert (server.desired_state, server.suspended_by_restriction) == ("suspended", True)
    assert _state(engine, window_id) == "completed"


def test_advancing_twice_at_the_start_saves_each_server_once(engine: Engine) -> None:
    window_id, ids, _ = _setup(engine)
    advance_windows(engine, now=START)
    with Session(engine) as session:
        generations = [session.get(Server, i).generation for i in ids]  # type: ignore[union-attr]
    advance_windows(engine, now=datetime.fromisoformat("2027-03-03T01:05:00+09:00"))
    with Session(engine) as session:
        assert [session.get(Server, i).generation for i in ids] == generations  # type: ignore[union-attr]
    assert len(_outcomes(engine, window_id)) == 2
