"""Fetching an image from the control plane into a local file: streamed, resumed with Range, verified.

`GET /v1/hosts/{host}/images/{image_id}/file` (controlplane/protocol.py). A cut transfer keeps its
partial file and the next attempt (or the next pass, or a restarted agent) asks only for the rest;
the sha256 runs over the whole file as it arrives (a resumed file's prefix is hashed once, on resume),
and a file whose checksum or size is wrong is deleted, never cached.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx

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
) -> None:
    """Make `dest` hold exactly the image (size and sha256), resuming whatever part of it is there."""
    hasher, hashed = hashlib.sha256(), 0
    last_error = "no attempt made"
    for attempt in range(max(1, attempts)):
        if attempt:
            time.sleep(backoff_s * 2 ** (attempt - 1))
        have = dest.stat().st_size if dest.exists() else 0
        if have > image.size_bytes:
            dest.unlink()
            have = 0
        if hashed != have:  # a partial file from an earlier run: hash its prefix once
            hasher, hashed = _hash_prefix(dest, have)
        if have == image.size_bytes:
            break
        try:
            hasher, hashed = _fetch_rest(http, url_path, dest, have, hasher)
        except httpx.TransportError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            if dest.exists():
                hasher, hashed = _hash_prefix(dest, dest.stat().st_size)
            continue
        except _Retry as exc:
            last_error = str(exc)
            continue
        if hashed >= image.size_bytes:
            break
        last_error = f"the transfer ended after {hashed} of {image.size_bytes} bytes"
    else:
        raise ImageFetchFailed(f"image {image.id}: {last_error} (after {attempts} attempts)")
    _verify(dest, image, hasher, hashed)


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
