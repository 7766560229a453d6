"""The desired-state version: every source that changes what an agent is served changes the version,
and what the agent itself reports (observed state, heartbeats) does not, or it would wake itself.

Each test applies one change through the service that makes it in production and asserts both that the
served desired state changed (the change is real) and that the version changed with it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from controlplane.db import session_scope
from controlplane.models import Host, Server
from controlplane.protocol import DeletionReport, HostObservedState, ObservedServer, WipedVolume
from controlplane.schemas.enforcement import BlockCreate
from controlplane.services.enforcement import blocks as block_service
from controlplane.services.fleet.agent_state import (
    apply_observed_state,
    desired_state_for_host,
    desired_version,
)
from controlplane.services.fleet.servers import change_desired_state
from tests.utils.factories import make_host, make_server, make_world, noon
from tests.utils.terminations import deliver_notices_now, start_policy_termination

NOW = noon(date(2027, 3, 2))
Snapshot = tuple[str, str]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same aggregates on both stores (SQLite by default, PostgreSQL in production)."""
    return request.getfixturevalue("pg_engine" if request.param == "postgres" else "sqlite_engine")  # type: ignore[no-any-return]


def _world(engine: Engine, servers: int = 2) -> tuple[int, list[str]]:
    with session_scope(engine) as session:
        contract, made = make_world(session, servers=servers)
        return contract.id or 0, [s.id for s in made]


def _snapshot(engine: Engine, at: datetime = NOW) -> Snapshot:
    """(version, desired state as JSON) for the one host, read the way the routes read them."""
    with Session(engine) as session:
        host = session.exec(select(Host)).one()
        return desired_version(session, host, at), desired_state_for_host(session, host, at).model_dump_json()


def _assert_change_is_seen(engine: Engine, change: Callable[[], object], at: datetime = NOW) -> None:
    version, desired = _snapshot(engine, at)
    change()
    new_version, new_desired = _snapshot(engine, at)
    assert new_desired != desired, "the change under test did not alter the desired state"
    assert new_version != version


def _spam_block(**overrides: object) -> BlockCreate:
    fields: dict[str, object] = {
        "kind": "spam",
        "scope": "smtp",
        "item": 4,
        "reason": "KISA spam report",
        "notice": "after",
        "notice_after_reason": "ongoing spam run",
    }
    fields.update(overrides)
    return BlockCreate(**fields)  # type: ignore[arg-type]


def test_version_is_stable_while_nothing_changes(engine: Engine) -> None:
    _world(engine)
    assert _snapshot(engine) == _snapshot(engine)


def test_a_new_server_changes_the_version(engine: Engine) -> None:
    _world(engine)

    def create() -> None:
        with session_scope(engine) as session:
            make_world(session, servers=1)  # same host: host 1 is reused

    _assert_change_is_seen(engine, create)


@pytest.mark.parametrize("action", ["suspend", "stop", "delete"])
def test_a_server_action_changes_the_version(engine: Engine, action: str) -> None:
    with session_scope(engine) as session:  # no contract: a plain server may be deleted
        host = make_host(session, "dctest-hv", libvirt_uri="test:///default")
        server = make_server(session, host, name="plain")
    sid = server.id

    def act() -> None:
        with Session(engine) as session:
            change_desired_state(session, now=NOW, actor="test", server_id=sid, action=action)  # type: ignore[arg-type]

    _assert_change_is_seen(engine, act)


def test_a_deletion_report_removing_the_server_changes_the_version(engine: Engine) -> None:
    contract_id, sids = _world(engine)
    start_policy_termination(engine, contract_id, NOW)
    deliver_notices_now(engine, NOW)
    disk = WipedVolume(
        name=f"dcloud-{sids[0]}-disk0", path="/pool/disk0", capacity_bytes=1 << 30, bytes_overwritten=1 << 30
    )
    deletion = DeletionReport(
        server_id=sids[0],
        domain_name=f"dcloud-{sids[0]}",
        volumes=[disk],
        bytes_overwritten=1 << 30,
        method="zero-fill",
        started_at=NOW,
        finished_at=NOW,
    )

    def report() -> None:
        with Session(engine) as session:
            host = session.exec(select(Host)).one()
            apply_observed_state(
                session, now=NOW, host=host, report=HostObservedState(deletions=[deletion], full=False)
            )

    _assert_change_is_seen(engine, report)


def test_the_agents_own_reports_do_not_change_the_version(engine: Engine) -> None:
    _, sids = _world(engine)
    before = _snapshot(engine)
    with Session(engine) as session:
        host = session.exec(select(Host)).one()
        observed = [ObservedServer(id=sid, state="running", detail="booted") for sid in sids]
        apply_observed_state(
            session,
            now=NOW + timedelta(seconds=5),
            host=host,
            report=HostObservedState(servers=observed, full=True),
        )
    assert _snapshot(engine) == before


def test_an_smtp_block_and_its_lifting_change_the_version(engine: Engine) -> None:
    contract_id, _ = _world(engine)
    made: list[int] = []

    def block() -> None:
        with Session(engine) as session:
            made.append(
                block_service.create_operator_block(
                    session, contract_id=contract_id, request=_spam_block(), now=NOW, actor="op"
                ).id
                or 0
            )

    def lift() -> None:
        with Session(engine) as session:
            block_service.lift_operator_block(session, block_id=made[0], now=NOW, actor="op", reason="fixed")

    _assert_change_is_seen(engine, block)
    _assert_change_is_seen(engine, lift)


def test_an_smtp_block_noticed_in_advance_changes_the_version_when_it_starts(engine: Engine) -> None:
    contract_id, _ = _world(engine)
    starts = NOW + timedelta(days=2)
    with Session(engine) as session:
        block_service.create_operator_block(
            session,
            contract_id=contract_id,
            now=NOW,
            actor="op",
            request=_spam_block(notice="before", starts_at=starts, notice_after_reason=None),
        )
    # Nothing is written when the start passes: the clock alone moves the block into force.
    before, after = _snapshot(engine, starts - timedelta(seconds=1)), _snapshot(engine, starts)
    assert before[1] != after[1]
    assert before[0] != after[0]


def test_a_full_block_suspending_the_servers_changes_the_version(engine: Engine) -> None:
    contract_id, _ = _world(engine)

    def block() -> None:
        with Session(engine) as session:
            block_service.create_operator_block(
                session,
                contract_id=contract_id,
                now=NOW,
                actor="op",
                request=_spam_block(kind="security", scope="full", item=9),
            )

    _assert_change_is_seen(engine, block)


def test_terminating_the_contract_of_a_withheld_delete_changes_the_version(engine: Engine) -> None:
    contract_id, sids = _world(engine, servers=1)
    # A delete recorded before the contract guard existed: served as "stopped" until terminating.
    with session_scope(engine) as session:
        session.execute(update(Server).where(Server.id == sids[0]).values(desired_state="deleted"))

    def terminate() -> None:
        start_policy_termination(engine, contract_id, NOW)
        deliver_notices_now(engine, NOW)  # the wipe order goes out once the notice reached the relay

    _assert_change_is_seen(engine, terminate)


def test_an_address_lease_and_its_release_change_the_version(engine: Engine) -> None:
    from network.pools import PoolSpec, create_pool
    from network.service import allocate_server_address, release_server_addresses

    _, sids = _world(engine)
    with session_scope(engine) as session:
        create_pool(
            session, spec=PoolSpec(name="dctest-pool", cidr="192.0.2.0/24", network_name="dctest"), at=NOW
        )

    def allocate() -> None:
        with session_scope(engine) as session:
            server = session.get(Server, sids[0])
            assert server is not None and allocate_server_address(session, server=server, at=NOW)

    def release() -> None:
        with session_scope(engine) as session:
            assert release_server_addresses(session, server_id=sids[0], at=datetime(2027, 3, 3, tzinfo=UTC))

    _assert_change_is_seen(engine, allocate)
    _assert_change_is_seen(engine, release)
