"""Image files on the control plane: stream a source to disk while hashing it, then inspect what arrived.

The format is decided here from the file's own header (`probe_format`), never by qemu-img: every later
qemu-img call is given it with `-f`. A qcow2 naming a backing file or an external data file is refused
from its header before qemu-img opens it at all (either would make QEMU read a host file: the Glance
and Nova lesson), and then again from `qemu-img info`. `qemu-img check` catches a corrupt or truncated
qcow2; a raw image has no structure to check, which is what the sha256 is for.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from controlplane.protocol import DiskFormat

CHUNK = 1024 * 1024
GIB = 1024**3
QCOW2_MAGIC = b"QFI\xfb"
# qcow2 v3 incompatible feature bit 2: the guest data lives in an external file.
_QCOW2_EXTERNAL_DATA_FILE = 1 << 2
# Headers of formats dcloud refuses, so a VMDK is "unsupported", not a raw disk full of VMDK bytes.
_REFUSED_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"KDMV", "vmdk"),
    (0, b"# Disk DescriptorFile", "vmdk"),
    (0, b"COWD", "vmdk"),
    (0x40, b"\x7f\x10\xda\xbe", "vdi"),
    (0, b"vhdxfile", "vhdx"),
    (0, b"conectix", "vpc"),
    (0, b"QFI\x00", "qed"),
    (0, b"LUKS\xba\xbe", "luks"),
    (0, b"WithoutFreeSpace", "parallels"),
    (0, b"WithouFreSpacExt", "parallels"),
    (0, b"Bochs Virtual HD Image", "bochs"),
    (0, b"#!/bin/sh\n#V2.0 Format", "cloop"),
]
# qemu-img on untrusted input runs with bounds (Nova's prlimit): 1 GiB address space, 30 s CPU.
_QEMU_IMG_AS_BYTES = 1 * GIB
_QEMU_IMG_CPU_S = 30
_QEMU_IMG_TIMEOUT_S = 120


class ImageRejected(Exception):
    """The file is not an image dcloud accepts; the message is the image's failure reason."""


@dataclass(frozen=True)
class Arrived:
    path: Path
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class Inspected:
    disk_format: DiskFormat
    virtual_size_bytes: int


def stream_to_file(
    source: str,
    dest: Path,
    *,
    import_roots: list[str],
    timeout_s: float,
    deadline_s: float,
    max_bytes: int,
) -> Arrived:
    """Copy an http(s) URL or an allowed local file to `dest`, hashing as it goes (never all in memory).

    The deadline is checked whenever data arrives (a URL's body is taken as it comes, never gathered
    into megabytes first), so a server trickling a byte every few seconds, under the per-read timeout,
    is cut at the deadline; a silence is cut by the per-read timeout. The caller removes `dest` on failure.
    """
    digest = hashlib.sha256()
    size = 0
    started = time.monotonic()
    with (
        dest.open("wb", buffering=CHUNK) as out,
        _chunks(source, import_roots=import_roots, timeout_s=timeout_s) as chunks,
    ):
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise ImageRejected(f"the image is larger than the limit of {max_bytes} bytes")
            if time.monotonic() - started > deadline_s:
                raise ImageRejected(
                    f"the download took longer than its deadline of {deadline_s:g} s (image_fetch_deadline_s)"
                )
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if size == 0:
        raise ImageRejected("the source is empty")
    return Arrived(path=dest, size_bytes=size, sha256=digest.hexdigest())


def local_source_path(source: str, import_roots: list[str]) -> Path:
    """The real path of a local source, refused unless it is a regular file under an import directory."""
    real = Path(os.path.realpath(source))
    roots = [Path(os.path.realpath(r)) for r in import_roots]
    if not any(real.is_relative_to(root) for root in roots):
        raise ImageRejected("the file is not under an image import directory (DCLOUD_IMAGE_IMPORT_DIRS)")
    if not real.is_file():
        raise ImageRejected("the path is not a regular file")
    return real


@contextmanager
def _chunks(source: str, *, import_roots: list[str], timeout_s: float) -> Iterator[Iterator[bytes]]:
    scheme = urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        timeout = httpx.Timeout(timeout_s)
        try:
            with httpx.stream("GET", source, timeout=timeout, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise ImageRejected(f"the URL answered HTTP {response.status_code}")
                yield _http_chunks(response)
        except httpx.TimeoutException:
            raise ImageRejected(f"the URL sent nothing for {timeout_s:g} s (timed out)") from None
        except httpx.HTTPError as exc:
            raise ImageRejected(f"the URL could not be fetched: {type(exc).__name__}") from None
        return
    path = local_source_path(source, import_roots)
    with path.open("rb") as src:
        yield iter(lambda: src.read(CHUNK), b"")


def _http_chunks(response: httpx.Response) -> Iterator[bytes]:
    # As it arrives: iter_bytes(CHUNK) held every byte until a whole megabyte had come (and copied it).
    if "content-encoding" in response.headers:
        yield from response.iter_bytes()
    else:
        yield from response.iter_raw()


def probe_format(path: Path) -> DiskFormat:
    """raw or qcow2 from the file's header; any other known format is refused by name."""
    with path.open("rb") as f:
        head = f.read(512)
    for offset, magic, name in _REFUSED_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            raise ImageRejected(f"unsupported image format {name} (only raw and qcow2 are accepted)")
    if head.startswith(QCOW2_MAGIC):
        _check_qcow2_header(head)
        return DiskFormat.QCOW2
    return DiskFormat.RAW


def _check_qcow2_header(head: bytes) -> None:
    if len(head) < 72:
        raise ImageRejected("the qcow2 header is truncated")
    version, backing_offset = struct.unpack(">IQ", head[4:16])
    if version not in (2, 3):
        raise ImageRejected(f"unsupported qcow2 version {version}")
    if backing_offset != 0:
        raise ImageRejected("the qcow2 image names a backing file (refused: it would read a host file)")
    (crypt_method,) = struct.unpack(">I", head[32:36])
    if crypt_method != 0:
        raise ImageRejected("encrypted qcow2 images are not accepted")
    if version == 3 and len(head) >= 80:
        (incompatible,) = struct.unpack(">Q", head[72:80])
        if incompatible & _QCOW2_EXTERNAL_DATA_FILE:
            raise ImageRejected(
                "the qcow2 image uses an external data file (refused: it would read a host file)"
            )


def inspect_image(path: Path) -> Inspected:
    """Probe the format, then let qemu-img (told the format) report sizes and check the structure."""
    disk_format = probe_format(path)
    info = _qemu_img_json(["info", "--output=json", "-f", disk_format, str(path)], "qemu-img info")
    if info.get("format") != disk_format:
        raise ImageRejected(f"qemu-img reads the file as {info.get('format')!r}, not {disk_format}")
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise ImageRejected("the qcow2 image names a backing file (refused: it would read a host file)")
    data = (info.get("format-specific") or {}).get("data") or {}
    if data.get("data-file"):
        raise ImageRejected("the qcow2 image uses an external data file (refused: it would read a host file)")
    if data.get("corrupt"):
        raise ImageRejected("the qcow2 image is marked corrupt")
    virtual = info.get("virtual-size")
    if not isinstance(virtual, int) or virtual <= 0:
        raise ImageRejected("qemu-img reports no virtual size")
    if disk_format == DiskFormat.QCOW2:
        _check_qcow2(path)
    return Inspected(disk_format=disk_format, virtual_size_bytes=virtual)


def min_disk_gib(virtual_size_bytes: int) -> int:
    """The smallest whole-GiB disk that holds the image's virtual size."""
    return max(1, -(-virtual_size_bytes // GIB))


def _check_qcow2(path: Path) -> None:
    result = _run_qemu_img(["check", "--output=json", "-f", DiskFormat.QCOW2, str(path)])
    # 0: clean; 3: leaked clusters only (harmless); 1/2: check failed or corruptions (a truncated file).
    if result.returncode not in (0, 3):
        raise ImageRejected("qemu-img check finds the qcow2 image corrupt or truncated")


def _qemu_img_json(args: list[str], what: str) -> dict[str, Any]:
    result = _run_qemu_img(args)
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise ImageRejected(f"{what} cannot read the image: {first.replace(str(args[-1]), '<image>')}")
    try:
        parsed = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise ImageRejected(f"{what} gave no JSON") from None
    if not isinstance(parsed, dict):
        raise ImageRejected(f"{what} gave no JSON object")
    return parsed


def _run_qemu_img(args: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            # prlimit (util-linux), not preexec_fn: the import runs in a thread, where fork hooks are unsafe.
            ["prlimit", f"--as={_QEMU_IMG_AS_BYTES}", f"--cpu={_QEMU_IMG_CPU_S}", "qemu-img", *args],
            capture_output=True,
            text=True,
            timeout=_QEMU_IMG_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ImageRejected("qemu-img took too long on the image") from None
