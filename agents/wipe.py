"""Overwrite a storage volume with zeros before it is deleted: a delete wipes every volume (Art. 20(8)).

libvirt's `virStorageVolWipe` writes in st_blksize (4 KiB) chunks and measured 5.5x slower than
`dd bs=4M conv=fsync` here, so file and block volumes get a direct large-block zeroing writer,
flushed with fsync before we return; every other pool type falls back to libvirt's wipe
(virStorageVolWipePattern with ALG_ZERO).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import libvirt
from lxml import etree

from controlplane.clock import Clock, system_clock
from controlplane.protocol import WipedVolume

# Measured on 1 GiB here: 1-4 MiB blocks match dd bs=4M; 8 and 16 MiB were ~50% slower (the zero
# buffer no longer stays in CPU cache). 4 MiB, like dd, it is.
DEFAULT_BLOCK_BYTES = 4 * 1024 * 1024

METHOD_ZERO = "zero+fsync"
# Holes in a sparse file hold no data, so only the extents SEEK_DATA reports need overwriting.
# (A libvirt dir-pool raw volume is fallocated: its never-written extents are "unwritten",
# read as zeros, and SEEK_DATA skips them too.)
METHOD_ZERO_EXTENTS = "zero-extents+fsync"
METHOD_LIBVIRT = "libvirt-wipe-zero"

# Pool types whose volumes are a local file or block device we may open and write directly.
_LOCAL_POOL_TYPES = frozenset({"dir", "fs", "netfs", "logical", "disk", "scsi", "iscsi", "mpath"})
_LOCAL_VOL_TYPES = frozenset({libvirt.VIR_STORAGE_VOL_FILE, libvirt.VIR_STORAGE_VOL_BLOCK})


@dataclass(frozen=True)
class WipeResult:
    name: str
    path: str
    capacity_bytes: int
    bytes_overwritten: int
    method: str
    started_at: datetime
    finished_at: datetime

    def to_wire(self) -> WipedVolume:
        """The per-volume part of a DeletionReport."""
        return WipedVolume(
            name=self.name,
            path=self.path,
            capacity_bytes=self.capacity_bytes,
            bytes_overwritten=self.bytes_overwritten,
        )


def wipe_volume(
    vol: libvirt.virStorageVol,
    *,
    use_libvirt: bool = False,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    sparse_aware: bool = True,
    clock: Clock = system_clock,
) -> WipeResult:
    """Zero every byte of `vol` that can hold data; durable on disk when this returns.

    `use_libvirt=True` forces the portable virStorageVolWipe path (also taken for pool types
    that are not a local file or block device). `sparse_aware=False` overwrites holes too.
    """
    started_at = clock()
    _vol_type, capacity, _allocation = vol.info()
    path = vol.path()
    if use_libvirt or not _is_local(vol):
        vol.wipePattern(libvirt.VIR_STORAGE_VOL_WIPE_ALG_ZERO, 0)
        overwritten, method = capacity, METHOD_LIBVIRT
    else:
        overwritten, method = zero_path(path, block_bytes=block_bytes, sparse_aware=sparse_aware)
    return WipeResult(
        name=vol.name(),
        path=path,
        capacity_bytes=capacity,
        bytes_overwritten=overwritten,
        method=method,
        started_at=started_at,
        finished_at=clock(),
    )


def zero_path(
    path: str, *, block_bytes: int = DEFAULT_BLOCK_BYTES, sparse_aware: bool = True
) -> tuple[int, str]:
    """Zero a regular file or block device in place; returns (bytes written, method)."""
    if block_bytes <= 0:
        raise ValueError("block_bytes must be positive")
    # O_WRONLY without O_TRUNC: truncating would only unlink blocks, not overwrite them.
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        size = _file_size(fd, mode)
        whole = [(0, size)]
        extents = list(_data_extents(path, size)) if sparse_aware and stat.S_ISREG(mode) else whole
        written = _zero_extents(fd, extents, block_bytes)
        os.fsync(fd)
    finally:
        os.close(fd)
    method = METHOD_ZERO if written == size else METHOD_ZERO_EXTENTS
    return written, method


def _is_local(vol: libvirt.virStorageVol) -> bool:
    """True when the volume is a file or block device in a pool type we can write directly."""
    vol_type = vol.info()[0]
    if vol_type not in _LOCAL_VOL_TYPES:
        return False
    try:
        pool_xml = vol.storagePoolLookupByVolume().XMLDesc(0)
    except libvirt.libvirtError:
        return False
    pool_type = etree.fromstring(pool_xml.encode()).get("type", "")
    return pool_type in _LOCAL_POOL_TYPES and os.path.exists(vol.path())


def _file_size(fd: int, mode: int) -> int:
    if stat.S_ISREG(mode):
        return os.fstat(fd).st_size
    if stat.S_ISBLK(mode):
        # st_size is 0 for a block device; seeking to the end gives its size.
        return os.lseek(fd, 0, os.SEEK_END)
    raise ValueError("volume path is neither a regular file nor a block device")


def _data_extents(path: str, size: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of each allocated region, found with SEEK_DATA/SEEK_HOLE."""
    # A separate read-only descriptor keeps the writer's offset untouched.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no data past offset: the rest is one hole
                    return
                if exc.errno == errno.EINVAL:  # filesystem without SEEK_DATA: treat all as data
                    yield offset, size - offset
                    return
                raise
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            if end > start:
                yield start, end - start
            offset = end
    finally:
        os.close(fd)


def _zero_extents(fd: int, extents: list[tuple[int, int]], block_bytes: int) -> int:
    """pwrite one reused zero buffer across each extent; returns the bytes written."""
    zeros = memoryview(bytes(block_bytes))
    written = 0
    for start, length in extents:
        end = start + length
        pos = start
        while pos < end:
            chunk = zeros[: min(block_bytes, end - pos)]
            n = os.pwrite(fd, chunk, pos)
            if n <= 0:
                raise OSError(errno.EIO, f"short write at offset {pos}")
            pos += n
            written += n
    return written
