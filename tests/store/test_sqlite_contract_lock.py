"""Concurrent changes of one contract on SQLite: the write lock makes the second approval see the first."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.db import session_scope
from controlplane.errors import Conflict
from controlplane.models import Contract
from controlplane.services.contracts.lifecycle import approve_contract
from tests.utils.factories import make_world

NOW = datetime(2027, 1, 5, 3, 0, tzinfo=UTC)


def test_two_simultaneous_approvals_of_one_contract_on_sqlite_one_wins(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    with session_scope(engine) as session:
        contract, _ = make_world(session, servers=0, state="applied")
        contract_id = contract.id or 0
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(actor: str) -> None:
        with Session(engine) as session:
            barrier.wait()
            try:
                approve_contract(session, now=NOW, actor=actor, contract_id=contract_id)
                outcomes.append("approved")
            except Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=approve, args=(f"billing:{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["approved", "conflict"]
    with Session(engine) as session:
        contract_row = session.get(Contract, contract_id)
        assert contract_row is not None and contract_row.state == "approved"
    engine.dispose()
