"""An agent given several control-plane replicas keeps reporting when the one it uses goes away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from agents.client import ControlPlaneClient, ControlPlaneUnavailable
from controlplane.clock import system_clock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.migrations import upgrade
from controlplane.models.auth import Role
from controlplane.models.host import Host
from controlplane.protocol import Heartbeat
from controlplane.services.tokens import issue_token
from tests.e2e.stack import free_port, serve_api
from tests.utils.factories import make_host

BEAT = Heartbeat(libvirt_uri="test:///default", libvirt_connected=True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    """A migrated store with host hv1 and hv1's agent token, shared by every replica of a test."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        make_host(session, "hv1")
        session.commit()
        token = issue_token(
            session, now=system_clock(), actor="test", role=Role.AGENT, name="a", host_name="hv1"
        ).plaintext
    yield engine, token
    engine.dispose()


def _last_beat(engine: Engine) -> object:
    with Session(engine) as session:
        host = session.get(Host, 1)
        assert host is not None
        return host.last_heartbeat_at


def test_agent_reaches_the_second_replica_when_the_first_is_down(store: tuple[Engine, str]) -> None:
    engine, token = store
    settings = Settings(database_url=str(engine.url))
    replica, stop = serve_api(engine, settings, None)
    try:
        client = ControlPlaneClient(f"http://127.0.0.1:{free_port()},{replica}", token, "hv1", backoff_s=0.01)
        client.heartbeat(BEAT)
        assert _last_beat(engine) is not None
        assert client.desired().host == "hv1"
    finally:
        stop()


def test_agent_fails_over_when_the_replica_it_uses_stops(store: tuple[Engine, str]) -> None:
    engine, token = store
    settings = Settings(database_url=str(engine.url))
    first, stop_first = serve_api(engine, settings, None)
    second, stop_second = serve_api(engine, settings, None)
    try:
        client = ControlPlaneClient([first, second], token, "hv1", attempts=1, backoff_s=0.01)
        client.heartbeat(BEAT)
        stop_first()
        before = _last_beat(engine)
        client.heartbeat(BEAT)  # the first refuses connections now; the same call lands on the second
        assert _last_beat(engine) != before
        stop_second()
        with pytest.raises(ControlPlaneUnavailable):
            client.heartbeat(BEAT)
    finally:
        stop_first()
        stop_second()
