"""A live dcloud on this host for end-to-end tests: the real API served by uvicorn on a loopback port,
and the real host agent converging the real libvirtd (`qemu:///system`), talking to each other over HTTP.

Everything libvirt-side is named from one run id (`dctest-e2e-<hex>`): the storage pool and its
directory. Domains are `dcloud-<server id>` as in production, so the stack remembers every server it
created and purges exactly those (plus the pool) when it stops, even after a failed test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import libvirt
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.clock import Clock, system_clock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.main import create_app
from controlplane.migrations import upgrade
from controlplane.models.auth import Role
from controlplane.models.host import Host
from controlplane.services.tokens import issue_token
from tests.agents.reconcile.helpers import purge

QEMU_URI = "qemu:///system"
POOL_ROOT = Path("/var/lib/dcloud-test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition") -> Any:
    """Polls `predicate` until it returns something truthy; fails the test with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@dataclass
class LiveStack:
    run_id: str
    engine: Engine
    base_url: str
    admin_token: str
    host_name: str
    agent_settings: Settings
    conn: libvirt.virConnect
    clock: Clock = system_clock
    server_ids: list[str] = field(default_factory=list)
    _stops: list[Callable[[], None]] = field(default_factory=list)
    # One client for every call: a client per poll spent 13% of the lifecycle benchmark building TLS
    # contexts and connections, measuring httpx instead of dcloud.
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return self.http.request(method, self.base_url + path, headers=headers, **kwargs)

    def token_for(self, role: Role, *, name: str) -> str:
        """Another person's token (a second operator, a billing clerk): a distinct actor to the API."""
        with Session(self.engine, expire_on_commit=False) as session:
            return issue_token(session, now=self.clock(), actor="e2e", role=role, name=name).plaintext

    def wait_for_reported_network(self, network: str) -> None:
        """Pools are checked against the networks the agents report: a network this test just made is
        known once the agent's next heartbeat names it."""

        def reported() -> bool:
            with Session(self.engine) as session:
                host = session.exec(select(Host).where(Host.name == self.host_name)).first()
                return host is not None and network in (host.networks or [])

        wait_for(reported, timeout=30, what=f"the agent to report network {network!r}")

    def create_server(self, name: str, **fields: Any) -> dict[str, Any]:
        body = {"name": name, "vcpus": 1, "memory_mib": 64, "disk_gib": 1, **fields}
        response = self.api("POST", "/v1/servers", json=body)
        assert response.status_code == 201, response.text
        server: dict[str, Any] = response.json()
        self.server_ids.append(server["id"])
        return server

    def domain_state(self, server_id: str) -> int | None:
        """libvirt's own view (VIR_DOMAIN_*), or None when the domain does not exist."""
        try:
            return int(self.conn.lookupByName(f"dcloud-{server_id}").state()[0])
        except libvirt.libvirtError:
            return None

    def has_managed_save(self, server_id: str) -> bool:
        try:
            return bool(self.conn.lookupByName(f"dcloud-{server_id}").hasManagedSaveImage(0))
        except libvirt.libvirtError:
            return False

    def volume_path(self, name: str) -> str:
        return str(self.conn.storagePoolLookupByName(self.run_id).storageVolLookupByName(name).path())

    def volumes(self) -> list[str]:
        pool = self.conn.storagePoolLookupByName(self.run_id)
        pool.refresh(0)
        return [vol.name() for vol in pool.listAllVolumes(0)]

    def stop(self) -> None:
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()
        # A fresh connection: libvirtd may have restarted under the test (another run's restart test),
        # and a guest left running on a dead connection's watch would outlive every later test.
        conn = libvirt.open(QEMU_URI)
        try:
            for server_id in self.server_ids:
                purge(conn, f"dcloud-{server_id}")
            purge(conn, self.run_id)
        finally:
            conn.close()
        shutil.rmtree(POOL_ROOT / self.run_id, ignore_errors=True)
        self.http.close()
        shutil.rmtree(POOL_ROOT / f"{self.run_id}-images", ignore_errors=True)
        shutil.rmtree(POOL_ROOT / f"{self.run_id}-images.partial", ignore_errors=True)
        self.conn.close()
        self.engine.dispose()


def serve_api(engine: Engine, settings: Settings, clock: Clock | None) -> tuple[str, Callable[[], None]]:
    port = free_port()
    app = create_app(settings=settings, engine=engine, clock=clock)
    # An agent's desired-state watch may be in flight when we stop: cut it after a second, not its wait.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
    thread = threading.Thread(target=server.run, name="e2e-api", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20, what="the API to start")

    def stop() -> None:
        app.state.draining.set()  # open watches answer at once, as under `dcloud serve` (cli/up.py)
        server.should_exit = True
        thread.join(timeout=10)

    return f"http://127.0.0.1:{port}", stop


def _start_agent(settings: Settings, clock: Clock = system_clock) -> Callable[[], None]:
    from agents.runner import run_agent

    stop_event = threading.Event()
    thread = threading.Thread(
        target=lambda: run_agent(settings, stop_event=stop_event, clock=clock), name="e2e-agent", daemon=True
    )
    thread.start()

    def stop() -> None:
        stop_event.set()
        thread.join(timeout=30)

    return stop


def start_stack(
    tmp_path: Path,
    *,
    clock: Clock | None = None,
    suspend_mode: str = "pause",
    poll_interval_s: float = 0.3,
    watch: bool = True,
) -> LiveStack:
    """Starts API + agent; the caller must call `stack.stop()` (the fixture does, in a finalizer).

    `poll_interval_s` and `watch` are the agent's `agent_poll_interval_s` and `agent_watch`.
    """
    run_id = f"dctest-e2e-{uuid.uuid4().hex[:8]}"
    engine = make_engine(f"sqlite:///{tmp_path / 'dcloud.db'}")
    upgrade(engine)
    POOL_ROOT.mkdir(mode=0o755, exist_ok=True)
    os.chmod(POOL_ROOT, 0o755)
    settings = Settings(
        database_url=str(engine.url),
        state_dir=str(tmp_path / "agent"),
        host_name=run_id,
        storage_pool=run_id,
        storage_pool_path=str(POOL_ROOT / run_id),
        image_dir=str(tmp_path / "images"),
        image_import_dirs=[str(tmp_path / "import")],
        image_pool=f"{run_id}-images",
        image_pool_path=str(POOL_ROOT / f"{run_id}-images"),
        suspend_mode=suspend_mode,
        stop_timeout_s=2.0,
        agent_poll_interval_s=poll_interval_s,
        agent_watch=watch,
        agent_resync_interval_s=max(5.0, poll_interval_s),
        heartbeat_interval_s=1.0,
        heartbeat_missed_limit=15,
        agent_metrics_port=free_port(),
        libvirt_uri=QEMU_URI,
    )
    conn = libvirt.open(QEMU_URI)
    stack = LiveStack(run_id, engine, "", "", run_id, settings, conn, clock or system_clock)
    try:
        base_url, stop_api = serve_api(engine, settings, clock)
        stack.base_url = base_url
        stack._stops.append(stop_api)
        now = stack.clock()
        stack.admin_token = stack.token_for(Role.ADMIN, name="e2e-admin")
        host = {"name": run_id, "libvirt_uri": QEMU_URI, "vcpus": 8, "memory_mib": 8192, "disk_gib": 50}
        response = stack.api("POST", "/v1/hosts", json=host)
        assert response.status_code == 201, response.text
        with Session(engine, expire_on_commit=False) as session:
            agent_token = issue_token(
                session, now=now, actor="e2e", role=Role.AGENT, name="e2e-agent", host_name=run_id
            ).plaintext
        stack.agent_settings = settings.model_copy(update={"api_url": base_url, "token": agent_token})
        # One clock for both sides: the control plane bounds the agent's deletion record by its own time.
        stack._stops.append(_start_agent(stack.agent_settings, stack.clock))
        wait_for(lambda: _host_is_up(stack), timeout=30, what="the agent's first heartbeat")
    except BaseException:
        stack.stop()
        raise
    return stack


def _host_is_up(stack: LiveStack) -> bool:
    response = stack.api("GET", f"/v1/hosts/{stack.host_name}")
    return response.status_code == 200 and response.json().get("health") == "up"
