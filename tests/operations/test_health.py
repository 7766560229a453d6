"""`/healthz` and `/readyz`: what a load balancer in front of several replicas asks each of them."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.main import create_app
from controlplane.migrations import head_revision, upgrade
from tests.e2e.stack import free_port


def _client(engine: Engine) -> TestClient:
    return TestClient(create_app(settings=Settings(database_url=str(engine.url)), engine=engine))


def _store(tmp_path: Path, revision: str = "head") -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine, revision)
    return engine


def test_healthz_answers_without_a_token_even_when_the_store_is_down() -> None:
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    response = _client(engine).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readyz_is_ready_on_a_store_at_the_shipped_revision(tmp_path: Path) -> None:
    response = _client(_store(tmp_path)).get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert response.json()["revision"] == head_revision()


def test_readyz_refuses_traffic_while_the_store_is_not_upgraded(tmp_path: Path) -> None:
    response = _client(_store(tmp_path, "0010_termination_settlement")).get("/readyz")
    assert response.status_code == 503
    assert response.json()["revision"] == "0010_termination_settlement"
    assert "dcloud db upgrade" in response.json()["reason"]


def test_readyz_refuses_traffic_when_the_store_cannot_be_reached() -> None:
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none", pool_timeout=2)
    response = _client(engine).get("/readyz")
    assert response.status_code == 503
    assert response.json()["reason"].startswith("store unreachable")
