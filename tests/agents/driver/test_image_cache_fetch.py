"""The image cache under parallel convergence, on real libvirt: servers asking at once for an image the host
lacks share one fetch and none of them waits for it (their workers stay free for other servers' steps),
different images fetch side by side, a failed fetch is not retried at once, and a trickling source
caches nothing."""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import libvirt
import pytest

from agents import image_cache
from agents.image_cache import ImageBeingFetched, ImageCache
from agents.image_fetch import ImageFetchFailed
from controlplane.protocol import DesiredImage, DiskFormat
from tests.agents.driver.conftest import RUN
from tests.agents.driver.image_support import LoopbackImageSource, desired_image, image_pool
from tests.utils.images import ServedFiles, serve_files, sha256_of

MIB = 1024**2
CALLERS = 4
T = TypeVar("T")


@dataclass
class TimedSource:
    """A LoopbackImageSource that notes when each fetch ran: (image id, started, ended)."""

    inner: LoopbackImageSource
    spans: list[tuple[str, float, float]] = field(default_factory=list)

    def fetch_image(self, image: DesiredImage, dest: Path) -> None:
        started = time.monotonic()
        try:
            self.inner.fetch_image(image, dest)
        finally:
            self.spans.append((image.id, started, time.monotonic()))


@pytest.fixture
def slow_served(tmp_path: Path) -> Iterator[tuple[TimedSource, ServedFiles, Path]]:
    """A loopback server sending 64 KiB every 20 ms (a 4 MiB image takes over a second)."""
    root = tmp_path / "served"
    root.mkdir()
    with serve_files(root, piece_delay_s=0.02) as (url, files):
        yield TimedSource(LoopbackImageSource(url)), files, root


@pytest.fixture
def make_cache(qemu_conn: libvirt.virConnect) -> Iterator[Callable[[object], ImageCache]]:
    tag = secrets.token_hex(2)
    with image_pool(f"dctest-{RUN}-{tag}-images", f"/var/tmp/dctest-{RUN}-{tag}-images") as (name, path):

        def make(source: object) -> ImageCache:
            return ImageCache(qemu_conn, pool_name=name, pool_path=path, source=source)  # type: ignore[arg-type]

        yield make


def _image(root: Path, size_mib: int = 4) -> DesiredImage:
    image_id = f"dctest{secrets.token_hex(4)}"
    path = root / image_id
    with path.open("wb") as f:  # data all through: two writers interleaving would change the hash
        f.write(secrets.token_bytes(size_mib * MIB))
    return desired_image(path, image_id, DiskFormat.RAW, size_mib * MIB)


def _all_at_once(calls: list[Callable[[], T]]) -> list[T]:
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@dataclass(frozen=True)
class Outcome:
    """What one ensure_base call gave (the volume's path, or the exception) and how long it took."""

    path: str | None
    error: Exception | None
    seconds: float


def _outcome(call: Callable[[], libvirt.virStorageVol]) -> Outcome:
    started = time.monotonic()
    try:
        vol = call()
    except Exception as exc:
        return Outcome(None, exc, time.monotonic() - started)
    return Outcome(vol.path(), None, time.monotonic() - started)


def _assert_one_fetched_the_others_did_not_wait(outcomes: list[Outcome], image: DesiredImage) -> str:
    fetched = [o for o in outcomes if o.error is None]
    deferred = [o for o in outcomes if isinstance(o.error, ImageBeingFetched)]
    assert len(fetched) == 1 and len(deferred) == len(outcomes) - 1, outcomes
    assert fetched[0].seconds > 1.0  # the slow server: over a second for the fetch...
    for outcome in deferred:  # ...which nobody else waited for
        assert outcome.seconds < 1.0, outcome
        assert str(outcome.error) == f"waiting for image {image.id}, being fetched for another server"
    assert fetched[0].path is not None
    return fetched[0].path


def test_servers_asking_at_once_for_an_uncached_image_share_one_download_and_none_waits(
    make_cache: Callable[[object], ImageCache], slow_served: tuple[TimedSource, ServedFiles, Path]
) -> None:
    source, files, root = slow_served
    image = _image(root)
    cache = make_cache(source)
    outcomes = _all_at_once([functools.partial(_outcome, lambda: cache.ensure_base(image))] * CALLERS)
    path = _assert_one_fetched_the_others_did_not_wait(outcomes, image)
    # The next pass of the servers that did not wait finds the base cached.
    assert [cache.ensure_base(image).path() for _ in range(CALLERS - 1)] == [path] * (CALLERS - 1)
    assert [path for path, _range in files.requests] == [f"/{image.id}"]
    assert sha256_of(Path(path)) == image.sha256
    assert list(cache.partial_dir.glob("*")) == []


def test_two_caches_of_one_pool_share_one_download(
    make_cache: Callable[[object], ImageCache], slow_served: tuple[TimedSource, ServedFiles, Path]
) -> None:
    # An agent that reconnected to libvirtd has a new cache while work of the old one may still fetch.
    source, files, root = slow_served
    image = _image(root)
    first, second = make_cache(source), make_cache(source)
    outcomes = _all_at_once(
        [
            functools.partial(_outcome, lambda: first.ensure_base(image)),
            functools.partial(_outcome, lambda: second.ensure_base(image)),
        ]
    )
    path = _assert_one_fetched_the_others_did_not_wait(outcomes, image)
    assert first.ensure_base(image).path() == second.ensure_base(image).path() == path
    assert len(files.requests) == 1
    assert sha256_of(Path(path)) == image.sha256


def test_a_worker_asking_for_an_image_being_fetched_is_not_held(
    make_cache: Callable[[object], ImageCache], slow_served: tuple[TimedSource, ServedFiles, Path]
) -> None:
    # The agent has 4 workers: were each to wait on a fetch of hours, a nonpayment suspend of another
    # server would wait as long.
    source, files, root = slow_served
    image = _image(root, size_mib=8)  # over two seconds from the slow server
    cache = make_cache(source)
    with ThreadPoolExecutor(2) as pool:
        fetching = pool.submit(cache.ensure_base, image)
        deadline = time.monotonic() + 5
        while not files.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert files.requests and not fetching.done()  # the fetch is in flight
        asked = pool.submit(_outcome, lambda: cache.ensure_base(image)).result(timeout=1.0)
        assert isinstance(asked.error, ImageBeingFetched) and asked.seconds < 1.0, asked
        assert not fetching.done()
        vol = fetching.result(timeout=30)
    assert cache.ensure_base(image).path() == vol.path()
    assert len(files.requests) == 1


def test_different_images_still_download_side_by_side(
    make_cache: Callable[[object], ImageCache], slow_served: tuple[TimedSource, ServedFiles, Path]
) -> None:
    source, _files, root = slow_served
    images = [_image(root), _image(root)]
    cache = make_cache(source)
    vols = _all_at_once([functools.partial(cache.ensure_base, image) for image in images])
    assert [sha256_of(Path(vol.path())) for vol in vols] == [image.sha256 for image in images]
    (_, start_a, end_a), (_, start_b, end_b) = source.spans
    assert max(start_a, start_b) < min(end_a, end_b)  # both were in flight at once


def test_a_trickling_source_fails_at_its_deadline_caches_nothing_and_is_not_refetched_at_once(
    make_cache: Callable[[object], ImageCache], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "served"
    root.mkdir()
    image = _image(root, size_mib=1)
    with serve_files(root, trickle_every_s=0.2) as (url, files):
        cache = make_cache(LoopbackImageSource(url, deadline_s=1.0))

        def ensure() -> str:
            try:
                cache.ensure_base(image)
            except (ImageFetchFailed, ImageBeingFetched) as exc:
                return str(exc)
            return "cached"

        started = time.monotonic()
        reasons = sorted(_all_at_once([ensure, ensure]))
        elapsed = time.monotonic() - started
        deadline = "deadline of 1 s (image_fetch_deadline_s)"
        # One fetched until its deadline; the other did not wait for it.
        assert deadline in reasons[0] and "being fetched" in reasons[1], reasons
        assert len(files.requests) == 1
        assert elapsed < 1.0 + 1.5
        # Within the backoff, the next server of the image fails at once with that reason.
        started = time.monotonic()
        again = ensure()
        assert deadline in again and "failed" in again and time.monotonic() - started < 0.5, again
        assert len(files.requests) == 1
        # After it, a fetch resumes the partial file with Range.
        monkeypatch.setattr(image_cache, "FETCH_FAILURE_BACKOFF_S", 0.0)
        assert deadline in ensure()
    assert len(files.requests) == 2 and files.requests[1][1] is not None
    assert cache.cached(image) is None
    partials = list(cache.partial_dir.glob("*"))  # kept outside the pool, for the next pass to resume
    assert [p.name for p in partials] == [f"{image.id}.raw"] and partials[0].stat().st_size < image.size_bytes
