"""Two hosts, two agents, two separate hypervisors on this machine (the real qemu:///system and libvirt's
test driver), one control plane: placement spreads servers across both and each agent converges its own."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import libvirt
import pytest
from sqlmodel import Session

from agents.runner import run_agent
from controlplane.clock import system_clock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.migrations import upgrade
from controlplane.models.auth import Role
from controlplane.services.tokens import issue_token
from tests.agents.reconcile.helpers import purge
from tests.e2e.stack import POOL_ROOT, free_port, serve_api, wait_for

pytestmark = pytest.mark.libvirt
HYPERVISORS = {"qemu": "qemu:///system", "test": "test:///default"}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[dict[str, object]]:
    run_id = f"dctest-two-{uuid.uuid4().hex[:6]}"
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    settings = Settings(database_url=str(engine.url), heartbeat_interval_s=1.0, heartbeat_missed_limit=15)
    base, stop_api = serve_api(engine, settings, None)
    conns = {kind: libvirt.open(uri) for kind, uri in HYPERVISORS.items()}
    stops: list[threading.Event] = []
    threads: list[threading.Thread] = []
    with Session(engine, expire_on_commit=False) as session:
        admin = issue_token(session, now=system_clock(), actor="t", role=Role.ADMIN, name="a").plaintext
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    servers: list[str] = []
    try:
        for kind, uri in HYPERVISORS.items():
            name = f"{run_id}-{kind}"
            body = {"name": name, "libvirt_uri": uri, "vcpus": 4, "memory_mib": 4096, "disk_gib": 20}
            assert http.post("/v1/hosts", json=body).status_code == 201
            with Session(engine, expire_on_commit=False) as session:
                token = issue_token(
                    session, now=system_clock(), actor="t", role=Role.AGENT, name=name, host_name=name
                ).plaintext
            agent = settings.model_copy(
                update={
                    "api_url": base,
                    "token": token,
                    "host_name": name,
                    "libvirt_uri": uri,
                    "state_dir": str(tmp_path / kind),
                    "storage_pool": run_id,
                    "storage_pool_path": str(POOL_ROOT / run_id) if kind == "qemu" else f"/{run_id}",
                    "agent_metrics_port": free_port(),
                    "agent_poll_interval_s": 0.3,
                    "stop_timeout_s": 2.0,
                }
            )
            stop = threading.Event()
            thread = threading.Thread(
                target=run_agent, args=(agent,), kwargs={"stop_event": stop}, daemon=True
            )
            thread.start()
            stops.append(stop)
            threads.append(thread)
        for kind in HYPERVISORS:
            wait_for(
                lambda k=kind: http.get(f"/v1/hosts/{run_id}-{k}").json()["health"] == "up",
                timeout=30,
                what=f"the {kind} agent's first heartbeat",
            )
        yield {"http": http, "run_id": run_id, "conns": conns, "servers": servers}
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(timeout=30)
        http.close()
        stop_api()
        for conn in conns.values():
            for server_id in servers:
                purge(conn, f"dcloud-{server_id}")
            purge(conn, run_id)
            conn.close()
        shutil.rmtree(POOL_ROOT / run_id, ignore_errors=True)
        engine.dispose()


def _domain_running(conn: libvirt.virConnect, server_id: str) -> bool:
    try:
        return conn.lookupByName(f"dcloud-{server_id}").state()[0] == libvirt.VIR_DOMAIN_RUNNING
    except libvirt.libvirtError:
        return False


def test_servers_are_placed_across_both_hypervisors_and_each_agent_runs_its_own(fleet) -> None:
    http: httpx.Client = fleet["http"]  # type: ignore[assignment]
    conns: dict[str, libvirt.virConnect] = fleet["conns"]  # type: ignore[assignment]
    run_id = fleet["run_id"]
    placed: dict[str, list[str]] = {kind: [] for kind in HYPERVISORS}
    for n in range(4):
        body = {"name": f"web-{n}", "vcpus": 1, "memory_mib": 64, "disk_gib": 1}
        response = http.post("/v1/servers", json=body)
        assert response.status_code == 201, response.text
        server = response.json()
        fleet["servers"].append(server["id"])  # type: ignore[attr-defined]
        placed[server["host"].removeprefix(f"{run_id}-")].append(server["id"])
    assert [len(ids) for ids in placed.values()] == [2, 2]  # least loaded first: they alternate
    for kind, ids in placed.items():
        other = conns["test" if kind == "qemu" else "qemu"]
        for server_id in ids:
            wait_for(lambda c=conns[kind], s=server_id: _domain_running(c, s), timeout=60, what=server_id)
            assert not _domain_running(other, server_id)  # the other agent never touched it
            wait_for(
                lambda s=server_id: http.get(f"/v1/servers/{s}").json()["observed_state"] == "running",
                timeout=30,
                what=f"{server_id} reported running",
            )
