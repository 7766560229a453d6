"""Fetching an image from the control plane into a local file: streamed, resumed with Range, verified.

`GET /v1/hosts/{host}/images/{image_id}/file` (controlplane/protocol.py). A cut transfer keeps its
partial file and the next attempt (on the next replica, or the next pass, or a restarted agent) asks
only for the rest;
the sha256 runs over the whole file as it arrives (a resumed file's prefix is hashed once, on resume),
and a file whose checksum or size is wrong is deleted, never cached.

The whole call has a deadline (`image_fetch_deadline_s`), checked whenever data arrives, not only per
megabyte: a server trickling a byte every few seconds stays under every per-read timeout and would
otherwise hold a fetch for days. A silence is ended by the per-read timeout, so a fetch ends at most that
long after its deadline. What a fetch cut by its deadline got stays in the partial file, for the next
attempt to resume.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx

from agents.failover import ControlPlaneUnavailable, ReplicaFailed, Replicas
from controlplane.protocol import DesiredImage

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
# The default of the `image_fetch_deadline_s` setting (controlplane/config.py), for callers without one.
DEFAULT_DEADLINE_S = 6 * 3600.0


class ImageFetchFailed(Exception):
    """The image could not be fetched or did not verify; the caller's pass reports the server in error."""


@runtime_checkable
class ImageSource(Protocol):
    """Where an agent gets an image file it lacks (production: the control plane's agent route)."""

    def fetch_image(self, image: DesiredImage, dest: Path) -> None: ...


def download_image(
    http: httpx.Client,
    url_path: str,
    image: DesiredImage,
    dest: Path,
    *,
    attempts: int = 5,
    backoff_s: float = 0.5,
    replicas: Replicas | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> None:
    """Make `dest` hold exactly the image (size and sha256), resuming whatever part of it is there.

    `url_path` is asked of the control-plane `replicas` in turn (agents/failover.py; default: `http`'s
    own base URL): one that answers a 5xx or cuts the transfer is left for the next, which continues the
    partial file with Range. The ETag every replica sends is the recorded sha256, so the parts match.
    All attempts together end by `deadline_s`.
    """
    replicas = replicas or Replicas([""], attempts=attempts, backoff_s=backoff_s)
    download = _Download(http, image, dest, _Deadline(image, deadline_s))
    try:
        replicas.call(f"image {image.id}", lambda base: download.attempt(base + url_path), attempts=attempts)
    except ControlPlaneUnavailable as exc:
        raise ImageFetchFailed(str(exc)) from None
    _verify(dest, image, download.hasher, download.hashed)


class _Download:
    """One image's transfer into `dest` over several attempts: the sha256 of what `dest` holds is
    carried from one attempt to the next, so a resumed prefix is hashed once."""

    def __init__(self, http: httpx.Client, image: DesiredImage, dest: Path, deadline: _Deadline) -> None:
        self.http, self.image, self.dest, self.deadline = http, image, dest, deadline
        self.hasher, self.hashed = hashlib.sha256(), 0

    def attempt(self, url: str) -> None:
        """Fetch what `dest` lacks from `url`; `ReplicaFailed` (or a transport error) when it fell short."""
        dest, size = self.dest, self.image.size_bytes
        self.deadline.check()  # a backoff between replicas may have run past it
        have = dest.stat().st_size if dest.exists() else 0
        if have > size:
            dest.unlink()
            have = 0
        if self.hashed != have:  # a partial file from an earlier run: hash its prefix once
            self.hasher, self.hashed = _hash_prefix(dest, have)
        if have == size:
            return
        try:
            self.hasher, self.hashed = _fetch_rest(self.http, url, dest, have, self.hasher, self.deadline)
        except httpx.TransportError:
            if dest.exists():
                self.hasher, self.hashed = _hash_prefix(dest, dest.stat().st_size)
            raise
        except _Retry as exc:
            raise ReplicaFailed(str(exc)) from None
        if self.hashed < size:
            raise ReplicaFailed(f"the transfer ended after {self.hashed} of {size} bytes")


class _Retry(Exception):
    pass


class _Deadline:
    """When the whole download must have ended; `check` raises past it, naming the setting."""

    def __init__(self, image: DesiredImage, deadline_s: float) -> None:
        self.image_id, self.deadline_s = image.id, deadline_s
        self.ends = time.monotonic() + deadline_s

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise ImageFetchFailed(
                f"image {self.image_id}: the download took longer than its deadline of {self.deadline_s:g} s "
                "(image_fetch_deadline_s)"
            )


def _fetch_rest(
    http: httpx.Client, url_path: str, dest: Path, have: int, hasher: hashlib._Hash, deadline: _Deadline
) -> tuple[hashlib._Hash, int]:
    headers = {"Range": f"bytes={have}-"} if have else {}
    with http.stream("GET", url_path, headers=headers) as response:
        if response.status_code == 416:  # our partial is already past what the server has
            dest.unlink(missing_ok=True)
            raise _Retry("HTTP 416 on resume; starting over")
        if response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            response.read()
            raise ImageFetchFailed(f"the control plane refused the image: HTTP {response.status_code}")
        if response.status_code == 200 and have:  # Range ignored: the whole file again
            hasher, have = hashlib.sha256(), 0
        mode = "ab" if have else "wb"
        # The body as it arrives, so the deadline is checked on every arrival: re-chunking it
        # (iter_bytes(CHUNK)) waited for a whole megabyte, and copied every byte again, which cost as
        # much as the transfer itself. The buffered file turns small arrivals into large writes.
        chunks = response.iter_bytes() if "content-encoding" in response.headers else response.iter_raw()
        with dest.open(mode, buffering=CHUNK) as out:
            try:
                for chunk in chunks:
                    out.write(chunk)
                    hasher.update(chunk)
                    have += len(chunk)
                    deadline.check()
            finally:
                out.flush()
                os.fsync(out.fileno())
    return hasher, have


def _hash_prefix(path: Path, length: int) -> tuple[hashlib._Hash, int]:
    hasher = hashlib.sha256()
    if length:
        with path.open("rb") as f:
            remaining = length
            while remaining:
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    break
                hasher.update(chunk)
                remaining -= len(chunk)
    return hasher, length


def _verify(dest: Path, image: DesiredImage, hasher: hashlib._Hash, hashed: int) -> None:
    if hashed != image.size_bytes or hasher.hexdigest() != image.sha256:
        dest.unlink(missing_ok=True)
        raise ImageFetchFailed(
            f"image {image.id}: checksum mismatch (got {hasher.hexdigest()} over {hashed} bytes, "
            f"expected {image.sha256} over {image.size_bytes})"
        )
