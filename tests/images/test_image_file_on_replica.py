"""A replica whose store says an image is active but whose image directory lacks its file, or holds
other bytes under its name, answers the agent 503 "not on this replica" with Retry-After, never a 500
(controlplane/services/fleet/image_store.py)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.utils.api import Api
from tests.utils.images import raw_image

STORE_LOGGER = "controlplane.services.fleet.image_store"


@pytest.fixture
def image(api: Api, import_dir: Path) -> dict[str, Any]:
    path = raw_image(import_dir / "base.raw", size_mib=2)
    response = api.call("POST", "/v1/images", role="operator", json={"name": "b", "source_path": str(path)})
    found: dict[str, Any] = api.call("GET", f"/v1/images/{response.json()['id']}").json()
    assert found["state"] == "active", found
    api.add_host("hv1")
    return found


def _fetch(api: Api, image: dict[str, Any]) -> Any:
    return api.call("GET", f"/v1/hosts/hv1/images/{image['id']}/file", role="agent:hv1")


def _assert_not_on_this_replica(response: Any, image: dict[str, Any]) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert image["id"] in body["detail"] and "not on this replica" in body["detail"]
    assert body["field"] == "image_id"
    assert int(response.headers["retry-after"]) > 0


def test_an_active_image_whose_file_is_missing_here_is_503_logged_once(
    api: Api, image: dict[str, Any], image_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (image_dir / f"{image['id']}.raw").unlink()
    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        response = _fetch(api, image)
    _assert_not_on_this_replica(response, image)
    warnings = [r for r in caplog.records if r.name == STORE_LOGGER]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert image["id"] in warnings[0].getMessage() and "\n" not in warnings[0].getMessage()


def test_a_file_of_another_size_is_503(api: Api, image: dict[str, Any], image_dir: Path) -> None:
    with (image_dir / f"{image['id']}.raw").open("r+b") as f:
        f.truncate(1024)
    _assert_not_on_this_replica(_fetch(api, image), image)


def test_a_file_of_the_right_size_with_other_bytes_is_503(
    api: Api, image: dict[str, Any], image_dir: Path
) -> None:
    assert _fetch(api, image).status_code == 200  # checked once and remembered for this file...
    stored = image_dir / f"{image['id']}.raw"
    other = raw_image(image_dir / "other", size_mib=2, marker=b"not the imported bytes")
    assert other.stat().st_size == stored.stat().st_size
    other.replace(stored)  # as a copy or rsync onto the share would
    _assert_not_on_this_replica(_fetch(api, image), image)  # ...and checked again once replaced


def test_a_file_this_replica_did_not_write_is_served_once_its_sha256_matches(
    api: Api, image: dict[str, Any], image_dir: Path
) -> None:
    stored = image_dir / f"{image['id']}.raw"
    copy = image_dir / "copy"
    copy.write_bytes(stored.read_bytes())
    copy.replace(stored)  # another file (another replica's import on the share): hashed before it is served
    served = _fetch(api, image)
    assert served.status_code == 200 and served.content == stored.read_bytes()


def test_the_file_route_documents_the_503_with_retry_after(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    answer = spec["paths"]["/v1/hosts/{host}/images/{image_id}/file"]["get"]["responses"]["503"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "Retry-After" in answer["headers"]


def test_a_file_whose_hash_is_running_is_503_being_verified_at_once_then_served(
    api: Api, image: dict[str, Any], image_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file of several GiB takes minutes to hash: no request thread waits for it.
    from controlplane.services.fleet import image_store

    stored = image_dir / f"{image['id']}.raw"
    copy = image_dir / "copy"
    copy.write_bytes(stored.read_bytes())
    copy.replace(stored)  # not the file this replica imported: it must be hashed before it is served
    release, hashing = threading.Event(), threading.Event()
    real_hash = image_store._hash_file

    def slow_hash(path: Path, sha256: str) -> bool:
        hashing.set()
        release.wait(10)
        return real_hash(path, sha256)

    monkeypatch.setattr(image_store, "_hash_file", slow_hash)
    monkeypatch.setattr(image_store, "VERIFY_WAIT_S", 0.2)
    try:
        started = time.monotonic()
        first = _fetch(api, image)  # starts the hash, waits a moment for it, then answers
        assert hashing.is_set()
        assert time.monotonic() - started < 1.0
        started = time.monotonic()
        second = _fetch(api, image)  # finds it running: answers at once
        assert time.monotonic() - started < 0.5
        for response in (first, second):
            assert response.status_code == 503, response.text
            assert f"image {image['id']} is being verified on this replica" in response.json()["detail"]
            assert response.json()["field"] == "image_id"
            assert int(response.headers["retry-after"]) > 0
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while image_store._hashing and time.monotonic() < deadline:  # the hash thread ends
        time.sleep(0.01)
    served = _fetch(api, image)
    assert served.status_code == 200 and served.content == stored.read_bytes()
