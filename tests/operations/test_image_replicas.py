"""Images behind several API replicas: real uvicorn replicas on loopback sharing one PostgreSQL store.

With an image directory per replica, the one that did not import an image answers its agent route 503
"not on this replica" (never a 500) and an agent given that replica first fetches the image from the
next one, verified. With the directory shared (README "Running several hosts"), every replica serves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from agents.client import ControlPlaneClient
from controlplane.clock import system_clock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.models.auth import Role
from controlplane.protocol import DesiredImage
from controlplane.services.tokens import issue_token
from tests.e2e.stack import serve_api, wait_for
from tests.utils.factories import make_host
from tests.utils.images import raw_image, sha256_of

pytestmark = pytest.mark.postgres
MIB = 1024**2


@dataclass(frozen=True)
class Store:
    url: str
    agent_token: str
    operator_token: str
    import_dir: Path


@pytest.fixture
def store(pg_store_url: str, tmp_path: Path) -> Store:
    """The shared PostgreSQL store with host hv1, its agent's token and an operator's."""
    engine = make_engine(pg_store_url)
    with Session(engine, expire_on_commit=False) as session:
        make_host(session, "hv1")
        session.commit()
        now = system_clock()
        agent = issue_token(session, now=now, actor="test", role=Role.AGENT, name="a", host_name="hv1")
        operator = issue_token(session, now=now, actor="test", role=Role.OPERATOR, name="op")
    engine.dispose()
    import_dir = tmp_path / "import"
    import_dir.mkdir()
    return Store(pg_store_url, agent.plaintext, operator.plaintext, import_dir)


@contextmanager
def replicas(store: Store, image_dirs: list[Path]) -> Iterator[list[str]]:
    """One replica per image directory, each with its own engine on the shared store; their URLs."""
    with ExitStack() as stack:
        urls = []
        for image_dir in image_dirs:
            engine = make_engine(store.url)
            stack.callback(engine.dispose)
            settings = Settings(
                database_url=store.url, image_dir=str(image_dir), image_import_dirs=[str(store.import_dir)]
            )
            url, stop = serve_api(engine, settings, None)
            stack.callback(stop)
            urls.append(url)
        yield urls


def _import_through(replica: str, store: Store) -> tuple[dict[str, Any], Path]:
    source = raw_image(store.import_dir / "base.raw", size_mib=4)
    with source.open("r+b") as f:  # data all through, so a resume at the wrong offset changes the hash
        f.write(bytes(range(256)) * (4 * MIB // 256))
    auth = {"Authorization": f"Bearer {store.operator_token}"}
    body = {"name": "base", "source_path": str(source)}
    created = httpx.post(f"{replica}/v1/images", json=body, headers=auth, timeout=30)
    assert created.status_code == 202, created.text

    def settled() -> dict[str, Any] | None:
        image: dict[str, Any] = httpx.get(f"{replica}/v1/images/{created.json()['id']}", headers=auth).json()
        return image if image["state"] != "importing" else None

    image = wait_for(settled, timeout=30, what="the import to settle")
    assert image["state"] == "active", image
    return image, source


def _file_through(replica: str, store: Store, image: dict[str, Any]) -> httpx.Response:
    path = f"/v1/hosts/hv1/images/{image['id']}/file"
    return httpx.get(replica + path, headers={"Authorization": f"Bearer {store.agent_token}"}, timeout=30)


def _desired(image: dict[str, Any]) -> DesiredImage:
    fields = ("id", "sha256", "disk_format", "size_bytes", "virtual_size_bytes")
    return DesiredImage.model_validate({k: image[k] for k in fields})


def test_the_replica_without_the_file_is_503_and_the_agent_fetches_from_the_other(
    store: Store, tmp_path: Path
) -> None:
    with replicas(store, [tmp_path / "images-a", tmp_path / "images-b"]) as (a, b):
        image, source = _import_through(a, store)

        refused = _file_through(b, store, image)
        assert refused.status_code == 503, refused.text
        assert f"image {image['id']} is not on this replica" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) > 0

        client = ControlPlaneClient([b, a], store.agent_token, "hv1", backoff_s=0.01)
        dest = tmp_path / "cache" / "base.raw"
        dest.parent.mkdir()
        try:
            client.fetch_image(_desired(image), dest)
        finally:
            client.close()
        assert sha256_of(dest) == image["sha256"] and dest.read_bytes() == source.read_bytes()
        assert client.replicas.url == a  # and it stays there for its next calls


def test_with_a_shared_image_directory_every_replica_serves_the_image(store: Store, tmp_path: Path) -> None:
    shared = tmp_path / "shared-images"  # as an NFS or CephFS mount on every replica
    with replicas(store, [shared, shared]) as (a, b):
        image, source = _import_through(a, store)
        for replica in (a, b):
            served = _file_through(replica, store, image)
            assert served.status_code == 200, served.text
            assert served.content == source.read_bytes()
            assert served.headers["etag"] == f'"{image["sha256"]}"'
