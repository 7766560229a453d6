"""Concurrent placements never overcommit a host and never fail with a 500 (PostgreSQL and the embedded
SQLite of `dcloud up`); concurrent desired-state changes never lose one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from controlplane.config import Settings
from controlplane.errors import NoCapacity
from controlplane.models.audit import AuditEvent
from controlplane.models.server import Server
from controlplane.schemas.hosts import HostCreate
from controlplane.schemas.servers import ServerCreate
from controlplane.services.fleet.hosts import record_heartbeat, register_host
from controlplane.services.fleet.servers import change_desired_state, create_server, get_server

NOW = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = Settings()


def _host(engine: Engine, name: str, vcpus: int) -> None:
    with Session(engine, expire_on_commit=False) as session:
        host = register_host(
            session,
            now=NOW,
            actor="test",
            data=HostCreate(
                name=name, libvirt_uri="qemu:///system", vcpus=vcpus, memory_mib=1 << 20, disk_gib=10000
            ),
        )
        record_heartbeat(session, now=NOW, host=host)


def _together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Runs `work(i)` in `count` threads released at the same instant; returns results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected, asserted by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_placements_never_overcommit_a_host(db_url: str) -> None:
    from controlplane.db import make_engine
    from controlplane.migrations import upgrade

    engine = make_engine(db_url, pool_size=12, max_overflow=4)
    try:
        upgrade(engine)
        _host(engine, "hv1", vcpus=3)
        _host(engine, "hv2", vcpus=2)

        def place(i: int) -> str:
            with Session(engine, expire_on_commit=False) as session:
                data = ServerCreate(name=f"s{i}", vcpus=1, memory_mib=64, disk_gib=1)
                return create_server(session, now=NOW, actor="test", data=data, settings=SETTINGS).id

        results = _together(12, place)
        placed = [r for r in results if isinstance(r, str)]
        refused = [r for r in results if isinstance(r, NoCapacity)]
        assert (len(placed), len(refused)) == (5, 7), results
        with Session(engine) as session:
            query = select(Server.host_id, func.sum(Server.vcpus)).group_by(Server.host_id)
            per_host = dict(session.exec(query).all())
        assert sorted(per_host.values()) == [2, 3]
    finally:
        engine.dispose()


def test_concurrent_identical_actions_apply_once(migrated_engine: Engine) -> None:
    _host(migrated_engine, "hv1", vcpus=8)
    with Session(migrated_engine, expire_on_commit=False) as session:
        data = ServerCreate(name="web", vcpus=1, memory_mib=64, disk_gib=1)
        server_id = create_server(session, now=NOW, actor="test", data=data, settings=SETTINGS).id

    def suspend(_i: int) -> int:
        with Session(migrated_engine, expire_on_commit=False) as session:
            return change_desired_state(
                session, now=NOW, actor="t", server_id=server_id, action="suspend"
            ).generation

    results = _together(4, suspend)
    assert results == [2, 2, 2, 2]
    with Session(migrated_engine) as session:
        assert get_server(session, server_id).generation == 2
        suspends = session.exec(select(AuditEvent).where(AuditEvent.action == "suspend")).all()
    assert len(suspends) == 1


def test_a_stale_generation_does_not_overwrite_a_newer_change(migrated_engine: Engine) -> None:
    from controlplane.models.server import DesiredState
    from controlplane.services.fleet.servers import _swap

    _host(migrated_engine, "hv1", vcpus=8)
    with Session(migrated_engine, expire_on_commit=False) as session:
        data = ServerCreate(name="web", vcpus=1, memory_mib=64, disk_gib=1)
        server = create_server(session, now=NOW, actor="test", data=data, settings=SETTINGS)
    with Session(migrated_engine, expire_on_commit=False) as session:
        change_desired_state(session, now=NOW, actor="t", server_id=server.id, action="stop")
    with Session(migrated_engine, expire_on_commit=False) as session:
        assert not _swap(session, server=server, target=DesiredState.SUSPENDED, now=NOW)  # still generation 1
        session.commit()
        assert get_server(session, server.id).desired_state == "stopped"
