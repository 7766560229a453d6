"""PostgreSQL crashes in the middle of an enforcement `apply` (issue 11, faults).

Each test runs on a private cluster (tests/utils/pg_cluster.py), never the shared server: the fault is
`pg_ctl stop -m immediate`, every backend killed at once. It lands at a point the test controls: the
moment the sweep's transaction for the K-th contract is about to commit, after every one of its writes
(block, contract state, servers, audit rows, outbox notice) reached the server. Whatever the timing, each
contract ends with all of its actions' effects or none of them, and the next sweep finishes the rest
exactly once: one block, one notice per channel, one audit row per effect.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, event, func
from sqlmodel import Session, col, select

from controlplane.clock import FixedClock
from controlplane.db import make_engine, session_scope
from controlplane.models import AuditEvent, Block, Contract, Notice, Server
from controlplane.notify.sms import LoggingSmsProvider
from controlplane.services.enforcement import sweep as enforcement
from controlplane.services.enforcement.decisions import SweepKind
from controlplane.services.notices import deliver_due_notices
from controlplane.store_metadata import load_all_models
from tests.enforcement.test_nonpayment import DAY_31
from tests.utils.factories import make_invoice, make_world, noon
from tests.utils.pg_cluster import PrivateCluster, private_cluster
from tests.utils.relay import Relay

pytestmark = pytest.mark.postgres

CONTRACTS = 5
CRASH_AT = 3  # the third contract's transaction is the one cut off at its commit


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as running:
        yield running


@pytest.fixture
def crash_engine(cluster: PrivateCluster) -> Iterator[Engine]:
    """A fresh database with every table on the private cluster; the cluster is running again afterwards."""
    url = cluster.create_database(f"dctest_{uuid.uuid4().hex[:12]}")
    engine = make_engine(url)
    load_all_models().create_all(engine)
    yield engine
    engine.dispose()
    if not cluster.running():  # a failed test may leave it stopped; the next test needs it up
        cluster.start()


def _seed(engine: Engine) -> list[int]:
    """CONTRACTS contracts, each with two running servers and one invoice unpaid 31 days after due."""
    ids = []
    with session_scope(engine) as session:
        for _ in range(CONTRACTS):
            contract, _servers = make_world(session)
            make_invoice(session, contract)
            ids.append(contract.id or 0)
    return ids


def _crash_at_commit_of_contract(engine: Engine, k: int, fault: Callable[[], None]) -> list[int]:
    """Runs `fault` when the transaction that locked the k-th contract is about to commit.

    A test-only hook on the engine's events, nothing in the code under test: `apply` locks each contract
    with SELECT ... FOR UPDATE (contract_lock), so counting those statements tells which contract's
    transaction a COMMIT ends. Returns a list that records the contract ids seen locked."""
    locked: list[int] = []
    fired = False

    @event.listens_for(engine, "before_cursor_execute")
    def _count_locks(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "FROM contracts" in statement and "FOR UPDATE" in statement:
            locked.append(int(params["id_1"]))

    @event.listens_for(engine, "commit")
    def _maybe_crash(conn: Any) -> None:
        nonlocal fired
        if not fired and len(locked) == k:
            fired = True
            fault()

    return locked


@dataclass(frozen=True)
class Effects:
    """What the restriction of one contract left in the store."""

    state: str
    servers: tuple[str, ...]
    blocks: int
    notices: int
    audit: tuple[str, ...]


NONE_APPLIED = Effects("active", ("running", "running"), 0, 0, ())


def _effects(engine: Engine, contract_id: int) -> Effects:
    with Session(engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        servers = session.exec(select(Server).where(Server.contract_id == contract_id)).all()
        blocks = session.exec(select(Block).where(Block.contract_id == contract_id)).all()
        entities = [("contract", str(contract_id))]
        entities += [("server", str(s.id)) for s in servers] + [("block", str(b.id)) for b in blocks]
        audit = session.exec(
            select(AuditEvent.action).where(
                func.concat(AuditEvent.entity_type, ":", AuditEvent.entity_id).in_(
                    [f"{t}:{i}" for t, i in entities]
                )
            )
        ).all()
        notices = session.exec(
            select(func.count()).select_from(Notice).where(col(Notice.contract_id) == contract_id)
        ).one()
        return Effects(
            contract.state,
            tuple(sorted(s.desired_state for s in servers)),
            len(blocks),
            notices,
            tuple(sorted(audit)),
        )


def _fully_applied(effects: Effects) -> bool:
    """One restriction and its notice, each effect audited once (two servers suspended)."""
    return effects == Effects(
        "restricted",
        ("suspended", "suspended"),
        1,
        1,  # e-mail only: the factory's customers have no SMS phone
        tuple(
            sorted(
                [
                    "restrict",
                    "state:restricted",
                    "suspend",
                    "suspend",
                    f"sweep_acted:{SweepKind.RESTRICT}",
                    f"sweep_acted:{SweepKind.NOTIFY}",
                ]
            )
        ),
    )


def _sweep(engine: Engine, day: date) -> enforcement.ApplyResult:
    with Session(engine) as session:
        actions = enforcement.plan(session, day, now=noon(day))
    return enforcement.apply(engine, actions, day, "system:sweep", now=noon(day))


def _failed_contracts(result: enforcement.ApplyResult) -> set[int]:
    return {action.contract_id for action, _why in result.failed}


def test_restart_during_apply_loses_one_contract_whole_and_the_next_sweep_does_it_once(
    crash_engine: Engine, cluster: PrivateCluster, relay: Relay
) -> None:
    contracts = _seed(crash_engine)

    def restart() -> None:
        cluster.stop_immediately()
        cluster.start()

    _crash_at_commit_of_contract(crash_engine, CRASH_AT, restart)
    first = _sweep(crash_engine, DAY_31)

    cut_off = contracts[CRASH_AT - 1]
    assert _failed_contracts(first) == {cut_off}
    # What the sweep reports is what committed: the rolled-back contract is not also listed as applied.
    assert {a.contract_id for a in first.applied} == set(contracts) - {cut_off}
    # The server came back while the sweep was still running: the contracts after the crash were applied
    # by the same sweep over fresh connections (pre-ping), the cut-off one left untouched.
    assert _effects(crash_engine, cut_off) == NONE_APPLIED
    for contract_id in contracts:
        if contract_id != cut_off:
            assert _fully_applied(_effects(crash_engine, contract_id)), contract_id

    second = _sweep(crash_engine, DAY_31)
    assert {a.contract_id for a in second.applied} == {cut_off}
    assert second.failed == []
    assert all(_fully_applied(_effects(crash_engine, c)) for c in contracts)
    # And a third sweep finds nothing left to do.
    assert _sweep(crash_engine, DAY_31).applied == []

    report = deliver_due_notices(crash_engine, relay.sender(), LoggingSmsProvider(), FixedClock(noon(DAY_31)))
    assert report.sent == CONTRACTS
    restricted = [s for s in relay.subjects_sent() if "Service restricted" in s]
    assert sorted(restricted) == sorted(
        f"[D-Cloud] Service restricted for nonpayment (contract {c})" for c in contracts
    )


def test_server_down_for_the_rest_of_apply_leaves_no_half_action_and_the_next_sweep_finishes(
    crash_engine: Engine, cluster: PrivateCluster
) -> None:
    contracts = _seed(crash_engine)
    _crash_at_commit_of_contract(crash_engine, CRASH_AT, cluster.stop_immediately)

    first = _sweep(crash_engine, DAY_31)  # the sweep itself survives the outage and reports it

    assert _failed_contracts(first) == set(contracts[CRASH_AT - 1 :])
    assert {a.contract_id for a in first.applied} == set(contracts[: CRASH_AT - 1])
    cluster.start()
    cluster.wait_accepting()
    for contract_id in contracts:
        effects = _effects(crash_engine, contract_id)
        assert effects == NONE_APPLIED or _fully_applied(effects), (contract_id, effects)
    assert all(_effects(crash_engine, c) == NONE_APPLIED for c in contracts[CRASH_AT - 1 :])

    second = _sweep(crash_engine, DAY_31)
    assert {a.contract_id for a in second.applied} == set(contracts[CRASH_AT - 1 :])
    assert second.failed == []
    assert all(_fully_applied(_effects(crash_engine, c)) for c in contracts)
