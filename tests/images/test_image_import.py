"""Image import (issue 9): streamed and hashed, format probed and passed explicitly, bad images failed
with the reason and nothing left behind in the image directory, a trickling URL cut at the deadline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.utils.api import Api
from tests.utils.images import (
    backing_file_qcow2,
    data_file_qcow2,
    files_in,
    qcow2_image,
    raw_image,
    serve_files,
    sha256_of,
    truncated,
    vmdk_image,
)


def _import(api: Api, **body: Any) -> dict[str, Any]:
    response = api.call("POST", "/v1/images", role="operator", json={"name": "img", **body})
    assert response.status_code == 202, response.text
    # The import runs as a background task; the test client returns once it has finished.
    image: dict[str, Any] = api.call("GET", f"/v1/images/{response.json()['id']}", role="operator").json()
    return image


def test_raw_file_import_records_sha256_format_sizes(api: Api, import_dir: Path, image_dir: Path) -> None:
    path = raw_image(import_dir / "disk.raw", size_mib=8)
    image = _import(api, source_path=str(path))
    assert image["state"] == "active", image
    assert image["sha256"] == sha256_of(path)
    assert image["disk_format"] == "raw"
    assert image["virtual_size_bytes"] == 8 * 1024 * 1024
    assert image["min_disk_gib"] == 1
    assert files_in(image_dir) == [f"{image['id']}.raw"]


def test_qcow2_over_http_is_active_with_its_virtual_size(api: Api, tmp_path: Path) -> None:
    path = qcow2_image(tmp_path / "disk.qcow2", size_mib=1536)
    with serve_files(tmp_path) as (url, _files):
        image = _import(api, source_url=f"{url}/disk.qcow2", sha256=sha256_of(path))
    assert image["state"] == "active", image
    assert image["disk_format"] == "qcow2"
    assert image["virtual_size_bytes"] == 1536 * 1024 * 1024
    assert image["min_disk_gib"] == 2  # 1.5 GiB rounds up


def test_wrong_checksum_fails_and_leaves_no_file(api: Api, import_dir: Path, image_dir: Path) -> None:
    path = raw_image(import_dir / "disk.raw")
    image = _import(api, source_path=str(path), sha256="0" * 64)
    assert image["state"] == "failed"
    assert "sha256 mismatch" in image["failure_reason"]
    assert files_in(image_dir) == []


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda d: vmdk_image(d / "x.vmdk"), "unsupported image format vmdk"),
        (lambda d: backing_file_qcow2(d / "x.qcow2", raw_image(d / "secret.raw")), "backing file"),
        (lambda d: data_file_qcow2(d / "x.qcow2", d / "data.raw"), "external data file"),
        (lambda d: truncated(qcow2_image(d / "ok.qcow2"), d / "x.qcow2"), "corrupt or truncated"),
    ],
    ids=["vmdk", "backing-file", "data-file", "truncated-qcow2"],
)
def test_refused_images_fail_with_the_reason(
    api: Api, import_dir: Path, image_dir: Path, build: Any, reason: str
) -> None:
    path = build(import_dir)
    image = _import(api, source_path=str(path))
    assert image["state"] == "failed"
    assert reason in image["failure_reason"]
    assert files_in(image_dir) == []


def test_hanging_url_times_out_as_a_failed_image(api: Api, tmp_path: Path, image_dir: Path) -> None:
    with serve_files(tmp_path, hang=True) as (url, _files):
        image = _import(api, source_url=f"{url}/never")
    assert image["state"] == "failed"
    assert "timed out" in image["failure_reason"]
    assert files_in(image_dir) == []


@pytest.mark.parametrize("fetch_deadline_s", [2.0])
def test_a_url_trickling_bytes_fails_at_the_deadline(api: Api, tmp_path: Path, image_dir: Path) -> None:
    # A byte every 0.2 s never trips the 1 s per-read timeout; only the whole-download deadline ends it.
    raw_image(tmp_path / "slow.raw", size_mib=1)
    with serve_files(tmp_path, trickle_every_s=0.2) as (url, _files):
        started = time.monotonic()
        image = _import(api, source_url=f"{url}/slow.raw")
        elapsed = time.monotonic() - started
    assert image["state"] == "failed"
    assert "longer than its deadline of 2 s (image_fetch_deadline_s)" in image["failure_reason"]
    assert 2.0 <= elapsed < 3.5
    assert files_in(image_dir) == []


def test_http_error_fails_the_image(api: Api, tmp_path: Path) -> None:
    with serve_files(tmp_path) as (url, _files):
        image = _import(api, source_url=f"{url}/missing.raw")
    assert image["state"] == "failed" and "HTTP 404" in image["failure_reason"]


def test_file_outside_the_import_directories_is_422(api: Api, tmp_path: Path) -> None:
    outside = raw_image(tmp_path / "outside.raw")
    response = api.call(
        "POST", "/v1/images", role="operator", json={"name": "x", "source_path": str(outside)}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "source_path"


def test_symlink_out_of_the_import_directory_is_422(api: Api, tmp_path: Path, import_dir: Path) -> None:
    (import_dir / "link.raw").symlink_to(raw_image(tmp_path / "outside.raw"))
    body = {"name": "x", "source_path": str(import_dir / "link.raw")}
    assert api.call("POST", "/v1/images", role="operator", json=body).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"name": "x", "source_url": "http://a/b", "source_path": "/a"},
        {"name": "x", "source_url": "ftp://a/b"},
        {"name": "x", "source_path": "/a", "sha256": "XYZ"},
    ],
)
def test_malformed_import_requests_are_422(api: Api, body: dict[str, Any]) -> None:
    assert api.call("POST", "/v1/images", role="operator", json=body).status_code == 422


def test_billing_may_not_import(api: Api, import_dir: Path) -> None:
    body = {"name": "x", "source_path": str(raw_image(import_dir / "d.raw"))}
    assert api.call("POST", "/v1/images", role="billing", json=body).status_code == 403


def test_url_credentials_are_not_stored(api: Api, tmp_path: Path) -> None:
    raw_image(tmp_path / "d.raw")
    with serve_files(tmp_path) as (url, _files):
        image = _import(api, source_url=url.replace("http://", "http://user:secret@") + "/d.raw")
    assert "secret" not in image["source"]
