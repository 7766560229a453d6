"""The simulated world: the real API in-process (FastAPI TestClient) on a SQLite store, the injected clock,
the real scheduler jobs, a real SMTP relay on loopback and one real host agent on libvirt's
`test:///default` driver, driven one simulated moment at a time so a seed replays exactly.

Every customer, operator and billing action goes through the public API with its own role's token; the
periodic work runs through the scheduler's own job functions (renewal, invoicing, sweep, notices); the agent
is the real reconciler talking HTTP to the same app.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import libvirt
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from agents.client import ControlPlaneClient
from agents.driver import LibvirtDriver
from agents.journal import DeletionJournal
from agents.metrics import AgentMetrics
from agents.reconcile import Reconciler
from controlplane.clock import FixedClock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.main import create_app
from controlplane.migrations import upgrade
from controlplane.models.auth import Role
from controlplane.models.server import Server
from controlplane.notify import LoggingSmsProvider
from controlplane.protocol import Heartbeat
from controlplane.services.notices import deliver_due_notices
from controlplane.services.tokens import issue_token
from controlplane.terms.calendar import seoul_midnight
from scheduler.jobs import billing as billing_jobs
from scheduler.jobs import enforcement as enforcement_jobs
from scheduler.registry import JobContext
from tests.agents.reconcile.helpers import purge
from tests.utils.relay import Relay, running_relay

TEST_URI = "test:///default"
# RFC 2544's benchmark range: a /20 holds the full run's servers; the test driver carries no traffic.
POOL_CIDR = "198.18.0.0/20"
CUSTOMER_DATA_OFFSET = 64 * 1024
CUSTOMER_DATA = b"dctest-sim customer data ".ljust(4096, b"#")


class ApiError(AssertionError):
    """The API answered something the simulation did not expect (a 5xx is always this)."""


@dataclass
class Tokens:
    admin: str
    billing: str
    operator: str
    second_operator: str


class World:
    """One simulated deployment; `at(day, hour)` moves the clock, the rest acts at the clock's time."""

    def __init__(self, tmp_path: Path, start: date, stack: ExitStack) -> None:
        self.run_id = f"dctest-sim-{uuid.uuid4().hex[:8]}"
        self.clock = FixedClock(seoul_midnight(start))
        self.engine: Engine = make_engine(f"sqlite:///{tmp_path / 'dcloud.db'}")
        upgrade(self.engine)
        stack.callback(self.engine.dispose)
        self.relay: Relay = stack.enter_context(running_relay())
        self.settings = Settings(
            database_url=str(self.engine.url),
            smtp_host="127.0.0.1",
            smtp_port=self.relay.port,
            host_name=self.run_id,
        )
        self.client = stack.enter_context(
            TestClient(create_app(settings=self.settings, engine=self.engine, clock=self.clock))
        )
        self.jobs = JobContext(self.engine, self.settings, self.clock)
        self.tokens = Tokens(
            admin=self._token(Role.ADMIN, "sim-admin"),
            billing=self._token(Role.BILLING, "sim-billing"),
            operator=self._token(Role.OPERATOR, "sim-operator-kim"),
            second_operator=self._token(Role.OPERATOR, "sim-operator-lee"),
        )
        self.conn = libvirt.open(TEST_URI)
        stack.callback(self._purge_libvirt)
        self.network = f"{self.run_id}-net"
        self._define_network()
        self._register_host_and_pool()
        self.reconciler = self._agent(tmp_path / "agent")
        self._last_pass: tuple[object, ...] = ()
        self.at(start)
        self.heartbeat()
        self.agent_pass()

    # -- setup ---------------------------------------------------------------------------------
    def _token(self, role: Role, name: str, host_name: str | None = None) -> str:
        with Session(self.engine, expire_on_commit=False) as session:
            issued = issue_token(
                session, now=self.clock(), actor="simulation", role=role, name=name, host_name=host_name
            )
            return issued.plaintext

    def _define_network(self) -> None:
        xml = (
            f"<network><name>{self.network}</name><bridge name='virbr-sim{self.run_id[-4:]}'/>"
            "<ip address='198.18.0.1' netmask='255.255.240.0'><dhcp>"
            "<range start='198.18.0.2' end='198.18.15.254'/></dhcp></ip></network>"
        )
        self.conn.networkCreateXML(xml)

    def _register_host_and_pool(self) -> None:
        host = {
            "name": self.run_id,
            "libvirt_uri": TEST_URI,
            "vcpus": 4096,
            "memory_mib": 64 * 1024 * 1024,
            "disk_gib": 1_000_000,
        }
        self.call("POST", "/v1/hosts", self.tokens.admin, json=host, expect=201)
        pool = {
            "name": f"{self.run_id}-pool",
            "cidr": POOL_CIDR,
            "gateway": "198.18.0.1",
            "network_name": self.network,
            "host_names": [self.run_id],
        }
        self.call("POST", "/v1/pools", self.tokens.admin, json=pool, expect=201)

    def _agent(self, state_dir: Path) -> Reconciler:
        token = self._token(Role.AGENT, "sim-agent", host_name=self.run_id)
        transport: httpx.BaseTransport = self.client._transport  # the same in-process app, over HTTP
        self.agent_client = ControlPlaneClient(
            str(self.client.base_url), token, self.run_id, transport=transport, attempts=1
        )
        self.pool_dir = state_dir.parent / "pool"
        self.pool_dir.mkdir()
        driver = LibvirtDriver(
            self.conn, pool_name=self.run_id, pool_path=str(self.pool_dir), stop_timeout_s=0.1
        )
        driver.ensure_pool()
        self.driver = driver
        # The agent shares the simulated clock: its deletion reports must not predate the wipe order.
        return Reconciler(
            driver, self.agent_client, DeletionJournal(state_dir), AgentMetrics(), clock=self.clock
        )

    def _purge_libvirt(self) -> None:
        try:
            with Session(self.engine) as session:
                ours = {f"dcloud-{sid}" for sid in session.exec(select(Server.id)).all()}
            for name in ours & {d.name() for d in self.conn.listAllDomains(0)}:
                purge(self.conn, name)
            purge(self.conn, self.run_id)
            for net in self.conn.listAllNetworks(0):
                if net.name() == self.network:
                    net.destroy()
        finally:
            self.conn.close()

    # -- time and jobs -------------------------------------------------------------------------
    def at(self, day: date, hour: int = 0, minute: int = 0) -> datetime:
        # The clock never goes back: a day's events keep their order, each no earlier than the last.
        moment = max(seoul_midnight(day) + timedelta(hours=hour, minutes=minute), self.clock.now)
        self.clock.now = moment
        return moment

    def heartbeat(self) -> None:
        """The agent beats every few seconds in real life; placement wants the host up at this moment."""
        self.agent_client.heartbeat(Heartbeat(libvirt_uri=TEST_URI, libvirt_connected=True))

    def run_renewal(self) -> None:
        enforcement_jobs.daily_renewal(self.jobs)

    def run_invoicing(self) -> None:
        billing_jobs.invoice_previous_month(self.jobs)

    def run_sweep(self) -> None:
        enforcement_jobs.daily_sweep(self.jobs)

    def deliver_notices(self) -> None:
        """The notice-delivery job, until the outbox has nothing due (it sends 100 a run)."""
        while True:
            report = deliver_due_notices(
                self.engine, self.relay.sender(), LoggingSmsProvider(), self.clock, batch=500
            )
            if report.sent == 0:
                return

    def agent_pass(self) -> None:
        """One full reconcile pass of the host agent, when the desired state moved since the last one (the
        real agent's watch wakes it the same way; a pass over an unchanged state changes nothing)."""
        with self.engine.connect() as db:
            fingerprint = tuple(
                db.execute(
                    text(
                        "SELECT COUNT(*), SUM(generation), MAX(updated_at) FROM servers "
                        "WHERE deleted_at IS NULL"
                    )
                ).one()
            )
        if fingerprint == self._last_pass:
            return
        self._last_pass = fingerprint
        result = self.reconciler.run_once()
        if result.errors:
            raise AssertionError(f"agent pass failed: {result.errors}")
        self._materialise_volumes()

    def _materialise_volumes(self) -> None:
        """The test driver's volumes are only names: give each a sparse file at its path holding a block
        of customer data, so the agent's wipe really overwrites bytes and the checks can read them."""
        pool = self.conn.storagePoolLookupByName(self.run_id)
        for vol in pool.listAllVolumes(0):
            path = Path(vol.path())
            if path.parent == self.pool_dir and not path.exists():
                with open(path, "wb") as disk:
                    disk.truncate(vol.info()[1])
                    disk.seek(CUSTOMER_DATA_OFFSET)
                    disk.write(CUSTOMER_DATA)

    def customer_data_left(self, server_id: str) -> list[str]:
        """Files of this server's volumes that still hold the customer's block."""
        left = []
        for path in self.pool_dir.glob(f"dcloud-{server_id}*"):
            with open(path, "rb") as disk:
                disk.seek(CUSTOMER_DATA_OFFSET)
                if disk.read(len(CUSTOMER_DATA)) == CUSTOMER_DATA:
                    left.append(path.name)
        return left

    # -- the public API ------------------------------------------------------------------------
    def call(
        self, method: str, path: str, token: str, *, expect: int | tuple[int, ...] = 200, **kwargs: Any
    ) -> httpx.Response:
        response = self.client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        allowed = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in allowed:
            raise ApiError(
                f"{method} {path} at {self.clock.now.isoformat()}: HTTP {response.status_code} "
                f"(expected {allowed}): {response.text[:600]}"
            )
        return response


@contextmanager
def world(tmp_path: Path, start: date) -> Iterator[World]:
    with ExitStack() as stack:
        yield World(tmp_path, start, stack)
