"""One agent (one host row) per hypervisor: a second host whose agent reports a libvirt host that a live
agent already serves is refused with a 409 naming the holder, and converges nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlmodel import Session

from agents.client import ControlPlaneClient
from agents.events import start_event_loop
from agents.host_identity import libvirt_host_id
from agents.runner import Agent
from controlplane.clock import system_clock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.migrations import upgrade
from controlplane.models.auth import Role
from controlplane.services.tokens import issue_token
from tests.agents.reconcile.helpers import purge
from tests.e2e.stack import free_port, serve_api
from tests.utils.api import Api
from tests.utils.factories import make_host


def _beat(api: Api, host: str, libvirt_host_id: str) -> tuple[int, dict[str, object]]:
    body = {"libvirt_uri": "qemu:///system", "libvirt_connected": True, "libvirt_host_id": libvirt_host_id}
    response = api.call("POST", f"/v1/hosts/{host}/heartbeat", role=f"agent:{host}", json=body)
    return response.status_code, response.json()


def test_second_host_claiming_a_live_hypervisor_is_refused_naming_the_holder(api: Api) -> None:
    api.add_host("hv1", heartbeat=False)
    api.add_host("hv2", heartbeat=False)
    assert _beat(api, "hv1", "uuid-a")[0] == 200
    status, body = _beat(api, "hv2", "uuid-a")
    assert status == 409
    assert body["field"] == "libvirt_host_id"
    assert "'hv1'" in str(body["detail"])
    assert api.call("GET", "/v1/hosts/hv2").json()["health"] == "unknown"  # not counted as up


def test_a_hypervisor_whose_agent_went_silent_can_be_claimed_by_another_host(api: Api) -> None:
    api.add_host("hv1", heartbeat=False)
    api.add_host("hv2", heartbeat=False)
    assert _beat(api, "hv1", "uuid-a")[0] == 200
    api.clock.advance(seconds=api.settings.heartbeat_interval_s * 3)
    assert _beat(api, "hv2", "uuid-a")[0] == 200
    assert _beat(api, "hv1", "uuid-a")[0] == 409  # now hv2 holds it


def test_each_host_may_keep_reporting_its_own_hypervisor(api: Api) -> None:
    api.add_host("hv1", heartbeat=False)
    api.add_host("hv2", heartbeat=False)
    assert _beat(api, "hv1", "uuid-a")[0] == 200
    assert _beat(api, "hv2", "uuid-b")[0] == 200
    assert _beat(api, "hv1", "uuid-a")[0] == 200


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[tuple[Engine, dict[str, str]]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    tokens = {}
    with Session(engine, expire_on_commit=False) as session:
        for name in ("dctest-hv-a", "dctest-hv-b"):
            make_host(session, name)
            session.commit()
            tokens[name] = issue_token(
                session, now=system_clock(), actor="test", role=Role.AGENT, name=name, host_name=name
            ).plaintext
    yield engine, tokens
    engine.dispose()


@pytest.mark.libvirt
def test_second_agent_on_the_same_libvirt_refuses_to_converge(
    two_hosts: tuple[Engine, dict[str, str]], tmp_path: Path
) -> None:
    engine, tokens = two_hosts
    base, stop_api = serve_api(engine, Settings(database_url=str(engine.url)), None)
    conn = libvirt.open("qemu:///system")
    pool = "dctest-claim-" + tmp_path.name[-8:]
    start_event_loop()
    try:
        agents = {}
        for name, token in tokens.items():
            settings = Settings(
                libvirt_uri="qemu:///system",
                host_name=name,
                state_dir=str(tmp_path / name),
                storage_pool=pool,
                storage_pool_path=f"/var/lib/dcloud-test/{pool}",
                agent_metrics_port=free_port(),
                agent_watch=False,
            )
            agents[name] = Agent(settings, ControlPlaneClient(base, token, name), threading.Event())
        first, second = agents["dctest-hv-a"], agents["dctest-hv-b"]
        first.step()
        second.step()
        assert first.refused is None and first.connections_opened == 1
        assert second.refused is not None and "'dctest-hv-a'" in second.refused
        assert libvirt_host_id(conn) in second.refused
        seen = {name: CollectorRegistry() for name in agents}
        for name, agent in agents.items():
            seen[name].register(agent.metrics)
        errors = "dcloud_agent_reconcile_errors_total"
        assert seen["dctest-hv-b"].get_sample_value(errors, {"kind": "hypervisor_claimed"}) == 1
        last_pass = "dcloud_agent_last_reconcile_timestamp_seconds"
        assert seen["dctest-hv-a"].get_sample_value(last_pass)  # the first converged ...
        assert seen["dctest-hv-b"].get_sample_value(last_pass) == 0  # ... the second never ran a pass
    finally:
        for agent in agents.values():
            agent._disconnect()
        stop_api()
        purge(conn, pool)
        conn.close()
