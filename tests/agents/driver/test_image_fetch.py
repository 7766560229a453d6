"""The agent's image download (agents/image_fetch.py) against a loopback server: resumed with Range after
a cut, resumed from a partial file of an earlier run, a file that does not verify is deleted, and a server
trickling bytes is cut at the deadline."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from agents.image_fetch import ImageFetchFailed, download_image
from agents.runner import control_plane_source
from controlplane.config import Settings
from controlplane.protocol import DiskFormat
from tests.agents.driver.image_support import desired_image
from tests.utils.images import raw_image, serve_files

MIB = 1024**2


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    root = tmp_path / "served"
    root.mkdir()
    path = raw_image(root / "img1", size_mib=4)
    with path.open("r+b") as f:  # data all through, so a wrong resume offset changes the hash
        f.write(bytes(range(256)) * (4 * MIB // 256))
    return path


def test_a_cut_download_resumes_with_range_and_verifies(image_file: Path, tmp_path: Path) -> None:
    image = desired_image(image_file, "img1", DiskFormat.RAW, 4 * MIB)
    dest = tmp_path / "dest"
    with serve_files(image_file.parent, cut_after=MIB) as (url, files), httpx.Client(base_url=url) as http:
        download_image(http, "/img1", image, dest, attempts=3, backoff_s=0.01)
    assert dest.read_bytes() == image_file.read_bytes()
    assert files.requests[0] == ("/img1", None)
    assert files.requests[1][1] is not None and files.requests[1][1].startswith("bytes=")
    assert int(files.requests[1][1][6:].rstrip("-")) > 0


def test_a_partial_file_from_an_earlier_run_is_continued(image_file: Path, tmp_path: Path) -> None:
    image = desired_image(image_file, "img1", DiskFormat.RAW, 4 * MIB)
    dest = tmp_path / "dest"
    dest.write_bytes(image_file.read_bytes()[: 3 * MIB])
    with serve_files(image_file.parent) as (url, files), httpx.Client(base_url=url) as http:
        download_image(http, "/img1", image, dest, attempts=1)
    assert files.requests == [("/img1", f"bytes={3 * MIB}-")]
    assert dest.read_bytes() == image_file.read_bytes()


def test_a_wrong_checksum_deletes_the_download(image_file: Path, tmp_path: Path) -> None:
    image = desired_image(image_file, "img1", DiskFormat.RAW, 4 * MIB).model_copy(update={"sha256": "f" * 64})
    dest = tmp_path / "dest"
    with (
        serve_files(image_file.parent) as (url, _files),
        httpx.Client(base_url=url) as http,
        pytest.raises(ImageFetchFailed, match="checksum mismatch"),
    ):
        download_image(http, "/img1", image, dest, attempts=1)
    assert not dest.exists()


def test_a_refusal_is_final(image_file: Path, tmp_path: Path) -> None:
    image = desired_image(image_file, "img1", DiskFormat.RAW, 4 * MIB)
    with (
        serve_files(image_file.parent) as (url, files),
        httpx.Client(base_url=url) as http,
        pytest.raises(ImageFetchFailed, match="HTTP 404"),
    ):
        download_image(http, "/nope", image, tmp_path / "dest", attempts=3)
    assert len(files.requests) == 1


def test_a_trickling_server_is_cut_at_the_deadline(image_file: Path, tmp_path: Path) -> None:
    image = desired_image(image_file, "img1", DiskFormat.RAW, 4 * MIB)
    dest = tmp_path / "dest"
    with (
        serve_files(image_file.parent, trickle_every_s=0.2) as (url, _files),
        httpx.Client(base_url=url, timeout=5) as http,
        pytest.raises(ImageFetchFailed, match=r"longer than its deadline of 2 s \(image_fetch_deadline_s\)"),
    ):
        started = time.monotonic()
        try:
            download_image(http, "/img1", image, dest, attempts=3, deadline_s=2.0)
        finally:
            elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 3.0
    assert dest.stat().st_size < 4 * MIB  # what arrived stays for the next attempt to resume


def test_the_agents_client_takes_the_deadline_from_the_setting(image_file: Path, tmp_path: Path) -> None:
    route = image_file.parent / "v1/hosts/h1/images/img1"
    route.mkdir(parents=True)
    (route / "file").write_bytes(image_file.read_bytes())
    image = desired_image(image_file, "img1", DiskFormat.RAW, 4 * MIB)
    with serve_files(image_file.parent, trickle_every_s=0.2) as (url, _files):
        settings = Settings(api_url=url, token="t", host_name="h1", image_fetch_deadline_s=1.0)
        client = control_plane_source(settings)
        started = time.monotonic()
        with pytest.raises(ImageFetchFailed, match="deadline of 1 s"):
            client.fetch_image(image, tmp_path / "dest")
        client.close()
    assert time.monotonic() - started < 2.0
