"""Fetching an image from the control plane into a local file: streamed, resumed with Range, verified.

`GET /v1/hosts/{host}/images/{image_id}/file` (controlplane/protocol.py). A cut transfer keeps its
partial file and the next attempt (on the next replica, or the next pass, or a restarted agent) asks
only for the rest;
the sha256 runs over the whole file as it arrives (a resumed file's prefix is hashed once, on resume),
and a file whose checksum or size is wrong is deleted, never cached.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx

from agents.failover import ControlPlaneUnavailable, ReplicaFailed, Replicas
from controlplane.protocol import DesiredImage

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024


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
) -> None:
    """Make `dest` hold exactly the image (size and sha256), resuming whatever part of it is there.

    `url_path` is asked of the control-plane `replicas` in turn (agents/failover.py; default: `http`'s
    own base URL): one that answers a 5xx or cuts the transfer is left for the next, which continues the
    partial file with Range. The ETag every replica sends is the recorded sha256, so the parts match.
    """
    replicas = replicas or Replicas([""], attempts=attempts, backoff_s=backoff_s)
    download = _Download(http, image, dest)
    try:
        replicas.call(f"image {image.id}", lambda base: download.attempt(base + url_path), attempts=attempts)
    except ControlPlaneUnavailable as exc:
        raise ImageFetchFailed(str(exc)) from None
    _verify(dest, image, download.hasher, download.hashed)


class _Download:
    """One image's transfer into `dest` over several attempts: the sha256 of what `dest` holds is
    carried from one attempt to the next, so a resumed prefix is hashed once."""

    def __init__(self, http: httpx.Client, image: DesiredImage, dest: Path) -> None:
        self.http, self.image, self.dest = http, image, dest
        self.hasher, self.hashed = hashlib.sha256(), 0

    def attempt(self, url: str) -> None:
        """Fetch what `dest` lacks from `url`; `ReplicaFailed` (or a transport error) when it fell short."""
        dest, size = self.dest, self.image.size_bytes
        have = dest.stat().st_size if dest.exists() else 0
        if have > size:
            dest.unlink()
            have = 0
        if self.hashed != have:  # a partial file from an earlier run: hash its prefix once
            self.hasher, self.hashed = _hash_prefix(dest, have)
        if have == size:
            return
        try:
            self.hasher, self.hashed = _fetch_rest(self.http, url, dest, have, self.hasher)
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


def _fetch_rest(
    http: httpx.Client, url_path: str, dest: Path, have: int, hasher: hashlib._Hash
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
        # The body as it arrives when nothing encoded it: re-chunking (iter_bytes) copied every byte
        # again and cost as much as the transfer itself.
        chunks = response.iter_bytes(CHUNK) if "content-encoding" in response.headers else response.iter_raw()
        with dest.open(mode) as out:
            try:
                for chunk in chunks:
                    out.write(chunk)
                    hasher.update(chunk)
                    have += len(chunk)
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
