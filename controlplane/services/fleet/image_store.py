"""This replica's image files (`DCLOUD_IMAGE_DIR`): where each lives, and whether the file here is the one
the store recorded at import.

API replicas share one store but each reads image files from its own `DCLOUD_IMAGE_DIR`, which a
deployment of several replicas puts on shared storage (README "Running several hosts"). Where it does
not, or where the share is not mounted, a replica may hold an active image's record without its file,
or with another file under its name: it answers 503 "not on this replica" (`Unavailable`, with
Retry-After), so the agent takes the image from another replica instead of a 500 or bytes that fail
its checksum after a full transfer.

The sha256 is checked once per file (device, inode, size, mtime) per process and remembered, good or
bad: hashing a base of several GiB on every Range request would cost more than serving it. The
replica that imported a file remembers it as checked from the import's own hash. The hash runs on a
thread of its own, started by the first request that finds the file unchecked: a request never waits
more than a moment for it (`VERIFY_WAIT_S`), and one that finds it still running answers 503 "being
verified" with Retry-After at once. A request thread held for minutes would let the agent's read timeout
fire and send it to the next replica, which would start hashing too, and hosts asking together would
fill the API's thread pool.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from controlplane.config import Settings
from controlplane.errors import Unavailable
from controlplane.models.image import Image

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
# What a refused agent is told to wait before asking this replica again; it tries the others first.
RETRY_AFTER_S = 10
# How long the request that starts a file's hash waits for it: a small image is served at once.
VERIFY_WAIT_S = 1.0


@dataclass(frozen=True)
class _FileIdentity:
    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> _FileIdentity:
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


@dataclass
class _Hash:
    """One file's hash on its own thread: `done` is set when it ends, `error` what reading it raised."""

    done: threading.Event = field(default_factory=threading.Event)
    error: OSError | None = None


# path -> (the file checked, the sha256 it was checked against, whether it matched)
_checked: dict[Path, tuple[_FileIdentity, str, bool]] = {}
# path -> its hash running on a thread of its own (at most one per path)
_hashing: dict[Path, _Hash] = {}
_guard = threading.Lock()


def image_path(settings: Settings, image_id: str, disk_format: str) -> Path:
    """Where this replica keeps an image's file (only an active image has one)."""
    return Path(settings.images_path()) / f"{image_id}.{disk_format}"


def import_partial_path(settings: Settings, image_id: str) -> Path:
    """Where an import writes the image's file until it is verified and inspected."""
    return Path(settings.images_path()) / f"{image_id}.part"


def served_file(settings: Settings, image: Image) -> Path:
    """The active image's file on this replica; `Unavailable` when it is missing or not the recorded one."""
    path = image_path(settings, image.id, image.disk_format or "")
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise _not_here(image, path, "no such file") from None
    except OSError as exc:
        raise _not_here(image, path, f"cannot read the file: {exc.strerror}") from None
    if stat.st_size != image.size_bytes:
        raise _not_here(image, path, f"the file has {stat.st_size} bytes, the record {image.size_bytes}")
    try:
        matches = _matches_sha256(path, stat, image.sha256 or "")
    except OSError as exc:
        raise _not_here(image, path, f"cannot read the file: {exc.strerror}") from None
    if matches is None:
        raise _being_verified(image)
    if not matches:
        raise _not_here(image, path, "the file's sha256 is not the recorded one")
    return path


def remember_checked(path: Path, sha256: str) -> None:
    """The import just wrote `path` and hashed it as `sha256`: no need to read it again here."""
    with _guard:
        _checked[path] = (_FileIdentity.of(path.stat()), sha256, True)


def forget_checked(path: Path) -> None:
    """`path` was removed (an import that lost its record): a new file there is hashed afresh."""
    with _guard:
        _checked.pop(path, None)


def _matches_sha256(path: Path, stat: os.stat_result, sha256: str) -> bool | None:
    """Whether the file is the recorded one; None while its hash is still running (on its own thread)."""
    identity = _FileIdentity.of(stat)
    with _guard:
        known = _checked.get(path)
        if known is not None and known[:2] == (identity, sha256):
            return known[2]
        running = _hashing.get(path)
        if running is not None:  # another request started it: never wait behind it
            return None
        running = _hashing[path] = _Hash()
    thread = threading.Thread(
        target=_hash_in_background,
        args=(path, identity, sha256, running),
        name=f"verify {path.name}",
        daemon=True,
    )
    thread.start()
    if not running.done.wait(VERIFY_WAIT_S):
        return None
    if running.error is not None:
        raise running.error
    with _guard:
        known = _checked.get(path)
    if known is not None and known[:2] == (identity, sha256):
        return known[2]
    return None  # replaced while it was read: the next request hashes the new file


def _hash_in_background(path: Path, identity: _FileIdentity, sha256: str, running: _Hash) -> None:
    try:
        matches = _hash_file(path, sha256)
        if _FileIdentity.of(path.stat()) == identity:  # not replaced while it was read
            with _guard:
                _checked[path] = (identity, sha256, matches)
    except OSError as exc:  # the request that waits says why; a later one tries again
        running.error = exc
    finally:
        with _guard:
            _hashing.pop(path, None)
        running.done.set()


def _hash_file(path: Path, sha256: str) -> bool:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == sha256


def _being_verified(image: Image) -> Unavailable:
    return Unavailable(
        f"image {image.id} is being verified on this replica; ask again shortly or ask another replica",
        field="image_id",
        retry_after_s=RETRY_AFTER_S,
    )


def _not_here(image: Image, path: Path, reason: str) -> Unavailable:
    log.warning("image %s is not on this replica: %s (%s)", image.id, reason, path)
    return Unavailable(
        f"image {image.id} is not on this replica ({reason}); another replica may serve it",
        field="image_id",
        retry_after_s=RETRY_AFTER_S,
    )
