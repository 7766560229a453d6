"""An API harness: app on a private store with a fixed clock, one token per role, and factories."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, select

from controlplane.clock import FixedClock
from controlplane.config import Settings
from controlplane.main import create_app
from controlplane.models.auth import Role
from controlplane.services.tokens import issue_token

T0 = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Api:
    client: TestClient
    engine: Engine
    clock: FixedClock
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def call(self, method: str, path: str, role: str | None = "admin", **kwargs: Any) -> Any:
        headers = {**(self.headers(role) if role else {}), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def token_for(
        self,
        role: Role,
        *,
        host: str | None = None,
        name: str = "t",
        customer_id: int | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        with Session(self.engine, expire_on_commit=False) as session:
            issued = issue_token(
                session,
                now=self.clock(),
                actor="test",
                role=role,
                name=name,
                host_name=host,
                customer_id=customer_id,
                expires_at=expires_at,
            )
        return issued.plaintext

    def add_host(
        self,
        name: str = "hv1",
        *,
        vcpus: int = 16,
        memory_mib: int = 65536,
        disk_gib: int = 1000,
        heartbeat: bool = True,
    ) -> str:
        """Registers a host and, by default, gives it an agent token (stored as `agent:<name>`) and a beat."""
        body = {
            "name": name,
            "libvirt_uri": "qemu:///system",
            "vcpus": vcpus,
            "memory_mib": memory_mib,
            "disk_gib": disk_gib,
        }
        response = self.call("POST", "/v1/hosts", json=body)
        assert response.status_code == 201, response.text
        self.tokens[f"agent:{name}"] = self.token_for(Role.AGENT, host=name, name=f"agent-{name}")
        if heartbeat:
            self.beat(name)
        return name

    def beat(self, host: str) -> None:
        body = {"libvirt_uri": "qemu:///system", "libvirt_connected": True}
        response = self.call("POST", f"/v1/hosts/{host}/heartbeat", role=f"agent:{host}", json=body)
        assert response.status_code == 200, response.text

    def add_server(
        self, name: str = "web", *, vcpus: int = 1, memory_mib: int = 1024, disk_gib: int = 10, **extra: Any
    ) -> dict[str, Any]:
        body = {"name": name, "vcpus": vcpus, "memory_mib": memory_mib, "disk_gib": disk_gib, **extra}
        response = self.call("POST", "/v1/servers", role="operator", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def count(self, model: type[SQLModel]) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(model)).one())


def make_api(engine: Engine, *, settings: Settings | None = None) -> Api:
    """The app on `engine`, a store that already has its tables (the `sqlite_engine`/`pg_engine` fixtures)."""
    clock = FixedClock(T0)
    settings = settings or Settings(
        database_url=str(engine.url), heartbeat_interval_s=30, heartbeat_missed_limit=2
    )
    client = TestClient(create_app(settings=settings, engine=engine, clock=clock))
    api = Api(client=client, engine=engine, clock=clock, settings=settings)
    for role in Role:
        if role not in (Role.AGENT, Role.CUSTOMER):  # bound to a host / a customer: made when needed
            api.tokens[role.value] = api.token_for(role, name=f"{role.value}-token")
    return api
