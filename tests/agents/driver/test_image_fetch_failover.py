"""The agent's image fetch across control-plane replicas (ControlPlaneClient.fetch_image, through the same
failover as every other call): a replica that refuses with a 5xx or cuts the transfer is left for the
next, which continues the partial file with Range; the result is verified."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from agents.client import ControlPlaneClient
from agents.image_fetch import ImageFetchFailed
from controlplane.protocol import DiskFormat
from tests.agents.driver.image_support import desired_image
from tests.utils.images import ServedFiles, raw_image, serve_files

MIB = 1024**2
ROUTE = "v1/hosts/hv1/images/img1/file"


@pytest.fixture
def roots(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two replicas' document roots holding the same image at the agent route's path."""
    first, second = tmp_path / "first", tmp_path / "second"
    for root in (first, second):
        (root / ROUTE).parent.mkdir(parents=True)
        path = raw_image(root / ROUTE, size_mib=4)
        with path.open("r+b") as f:  # data all through, so a wrong resume offset changes the hash
            f.write(bytes(range(256)) * (4 * MIB // 256))
    yield first, second


def _serve(stack: ExitStack, root: Path, **behaviour: object) -> tuple[str, ServedFiles]:
    return stack.enter_context(serve_files(root, **behaviour))


def test_a_transfer_cut_on_one_replica_continues_on_the_next_with_range(
    roots: tuple[Path, Path], tmp_path: Path
) -> None:
    first_root, second_root = roots
    image = desired_image(first_root / ROUTE, "img1", DiskFormat.RAW, 4 * MIB)
    dest = tmp_path / "dest"
    with ExitStack() as stack:
        first, first_files = _serve(stack, first_root, cut_after=MIB)
        second, second_files = _serve(stack, second_root)
        client = ControlPlaneClient([first, second], "t", "hv1", backoff_s=0.01)
        stack.callback(client.close)
        client.fetch_image(image, dest)
    assert dest.read_bytes() == (first_root / ROUTE).read_bytes()
    assert first_files.requests == [(f"/{ROUTE}", None)]
    ((path, ranged),) = second_files.requests
    assert path == f"/{ROUTE}" and ranged is not None and int(ranged.removeprefix("bytes=").rstrip("-")) > 0


def test_every_replica_down_is_an_image_fetch_failure(roots: tuple[Path, Path], tmp_path: Path) -> None:
    first_root, _ = roots
    image = desired_image(first_root / ROUTE, "img1", DiskFormat.RAW, 4 * MIB)
    client = ControlPlaneClient(["http://127.0.0.1:9", "http://127.0.0.1:9"], "t", "hv1", backoff_s=0.01)
    with pytest.raises(ImageFetchFailed, match=r"image img1: .*after 5 attempts"):
        client.fetch_image(image, tmp_path / "dest")
    client.close()
