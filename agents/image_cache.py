"""The host's image cache: each image's base once per host, in its own libvirt dir pool.

A base is shared by every server built on the image and never written by a guest (the servers get qcow2
overlays on it), so it holds no customer data and is never wiped. It is deleted only when no overlay in
the server pool names it as backing file any more (`bases_in_use` counts from the pool itself, which is
what QEMU will open): the Nova lesson of a cached base deleted under live overlays.

The agent converges servers in parallel (agents/dispatch.py), so two servers on an image the host lacks
ask for its base at once: one fetch per image runs at a time (`_fetch_lock`). The others never wait for
it: a fetch may take hours, and a worker waiting on it could not carry out a suspend ordered for another
server meanwhile. They raise `ImageBeingFetched` at once (the server is reported pending, its worker is
free) and the next pass finds the base cached. Different images still fetch in parallel. A failed fetch
is not retried for `FETCH_FAILURE_BACKOFF_S`: servers of that image fail at once with its reason rather
than each starting a fetch with a deadline of its own.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import libvirt

from agents import storage
from agents.host_driver import StepDeferred
from agents.image_fetch import ImageFetchFailed, ImageSource
from controlplane.protocol import DesiredImage

log = logging.getLogger(__name__)


def base_volume_name(image: DesiredImage) -> str:
    return f"{image.id}.{image.disk_format}"


# How long after a failed fetch of an image the next one may start; until then its servers fail at once.
FETCH_FAILURE_BACKOFF_S = 45.0


class ImageBeingFetched(StepDeferred):
    """Another worker is fetching the image: this server waits for the next pass, not for the fetch."""


# One lock per partial file, for the whole process: an agent that reconnects to libvirtd builds a new
# ImageCache while work of the old connection may still be fetching into the same file.
_fetch_locks: dict[str, threading.Lock] = {}
# partial file -> (when its last fetch failed, on the monotonic clock; why)
_fetch_failures: dict[str, tuple[float, str]] = {}
_fetch_locks_guard = threading.Lock()
_pool_lock = threading.Lock()


def _fetch_lock(partial: Path) -> threading.Lock:
    """The lock of one image's fetch (kept for the process's life: one small lock per image fetched)."""
    with _fetch_locks_guard:
        return _fetch_locks.setdefault(os.path.abspath(partial), threading.Lock())


def _recent_failure(partial: Path) -> tuple[float, str] | None:
    """(seconds ago, reason) of the image's last failed fetch, while it is within the backoff."""
    with _fetch_locks_guard:
        failure = _fetch_failures.get(os.path.abspath(partial))
    if failure is None:
        return None
    ago = time.monotonic() - failure[0]
    return (ago, failure[1]) if ago < FETCH_FAILURE_BACKOFF_S else None


def _note_fetch(partial: Path, failure: str | None) -> None:
    with _fetch_locks_guard:
        if failure is None:
            _fetch_failures.pop(os.path.abspath(partial), None)
        else:
            _fetch_failures[os.path.abspath(partial)] = (time.monotonic(), failure)


class ImageCache:
    def __init__(
        self,
        conn: libvirt.virConnect,
        *,
        pool_name: str,
        pool_path: str,
        source: ImageSource | None,
        partial_dir: str | None = None,
    ) -> None:
        self.conn = conn
        self.pool_name = pool_name
        self.pool_path = pool_path
        self.source = source
        # Partial downloads live beside the pool (not in it: a refresh would list them as volumes).
        self.partial_dir = Path(partial_dir or f"{pool_path.rstrip('/')}.partial")

    def pool(self) -> libvirt.virStoragePool:
        # Serialised: two servers' first images on a new host would both define the pool, and the
        # second define fails ("already exists").
        with _pool_lock:
            pool = storage.ensure_dir_pool(self.conn, self.pool_name, self.pool_path)
        # Bases are read by QEMU as the guest's user: readable, never writable, by others.
        os.chmod(self.pool_path, 0o755)
        return pool

    def cached(self, image: DesiredImage) -> libvirt.virStorageVol | None:
        return storage.find_volume(self.pool(), base_volume_name(image))

    def ensure_base(self, image: DesiredImage) -> libvirt.virStorageVol:
        """The image's base in the cache, fetched (and verified) first when the host lacks it."""
        pool = self.pool()
        name = base_volume_name(image)
        vol = storage.find_volume(pool, name)
        if vol is not None:
            _mark_used(vol)
            return vol
        if self.source is None:
            raise ImageFetchFailed(f"image {image.id} is not cached here and no image source is configured")
        partial = self.partial_dir / name
        lock = _fetch_lock(partial)
        if not lock.acquire(blocking=False):
            raise ImageBeingFetched(f"waiting for image {image.id}, being fetched for another server")
        try:
            vol = storage.find_volume(pool, name)
            if vol is not None:  # fetched between the look above and the lock
                _mark_used(vol)
                return vol
            failed = _recent_failure(partial)
            if failed is not None:
                ago, reason = failed
                raise ImageFetchFailed(
                    f"{reason} (fetch of image {image.id} failed {ago:.0f} s ago; "
                    f"the next starts {FETCH_FAILURE_BACKOFF_S:.0f} s after it)"
                )
            try:
                vol = self._fetch(self.source, pool, image, partial)
            except Exception as exc:
                _note_fetch(partial, str(exc) or type(exc).__name__)
                raise
            _note_fetch(partial, None)
            return vol
        finally:
            lock.release()

    def _fetch(
        self, source: ImageSource, pool: libvirt.virStoragePool, image: DesiredImage, partial: Path
    ) -> libvirt.virStorageVol:
        """Fetch into the partial file, then move it into the pool; the caller holds the image's lock."""
        name = partial.name
        self.partial_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        source.fetch_image(image, partial)
        final = Path(self.pool_path) / name
        # Same filesystem in the usual layout (a rename); a copy otherwise.
        shutil.move(partial, final)
        final.chmod(0o644)
        pool.refresh(0)
        log.info("cached image %s (%d bytes) as %s", image.id, image.size_bytes, final)
        return pool.storageVolLookupByName(name)

    def bases_in_use(self, server_pool: libvirt.virStoragePool) -> dict[str, list[str]]:
        """base path -> names of the overlays in `server_pool` that name it as their backing file."""
        return _backing_users([server_pool])

    def prune_unused(
        self,
        server_pool: libvirt.virStoragePool,
        *,
        keep: set[str],
        min_age_s: float = 0.0,
        now: float | None = None,
    ) -> list[str]:
        """Delete cached bases no overlay uses, no listed image id needs and nothing used for `min_age_s`.

        Overlays are looked for in every active pool of the host, not only `server_pool`: a base that
        QEMU opens for any guest is in use, whoever made the overlay. A base in use, or kept, is marked
        used now, so the age counts from its last use (Nova's remove_unused_original_minimum_age_seconds).
        """
        cache = storage.find_pool(self.conn, self.pool_name)
        if cache is None or not cache.isActive():
            return []
        cache.refresh(0)
        pools = [p for p in self.conn.listAllStoragePools(0) if p.isActive() and p.name() != self.pool_name]
        if server_pool.name() not in {p.name() for p in pools}:
            pools.append(server_pool)
        in_use = _backing_users(pools)
        now = time.time() if now is None else now
        removed = []
        for vol in cache.listAllVolumes(0):
            image_id = vol.name().rpartition(".")[0]
            if image_id in keep or in_use.get(os.path.realpath(vol.path())):
                _mark_used(vol, now)
                continue
            if now - _last_used(vol) < min_age_s:
                continue
            storage.delete_volume(vol)
            removed.append(vol.name())
            log.info("pruned cached image base %s (unused)", vol.name())
        return removed


def _backing_users(pools: list[libvirt.virStoragePool]) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for pool in pools:
        for vol in pool.listAllVolumes(0):
            backing = storage.backing_path_of(vol)
            if backing is not None:
                users.setdefault(os.path.realpath(backing), []).append(vol.name())
    return users


def _mark_used(vol: libvirt.virStorageVol, now: float | None = None) -> None:
    """The base file's mtime is its last use: QEMU only reads a base, so nothing else moves it."""
    try:
        os.utime(vol.path(), None if now is None else (now, now))
    except OSError as err:  # a remote pool, or a file that vanished: age then counts from the fetch
        log.debug("cannot mark %s used: %s", vol.name(), err)


def _last_used(vol: libvirt.virStorageVol) -> float:
    try:
        return os.stat(vol.path()).st_mtime
    except OSError:
        return 0.0
