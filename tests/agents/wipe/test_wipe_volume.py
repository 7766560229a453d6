"""wipe_volume against real libvirtd volumes: the bytes on disk are what we assert."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import libvirt
import pytest

from agents.wipe import METHOD_LIBVIRT, METHOD_ZERO, METHOD_ZERO_EXTENTS, wipe_volume
from controlplane.clock import FixedClock

pytestmark = pytest.mark.libvirt

MIB = 1024 * 1024
PATTERN = b"\xa5\x5a\xff\x01" * (64 * 1024 // 4)  # 64 KiB of non-zero bytes


def _write_at(path: str, offsets: list[int], data: bytes = PATTERN) -> None:
    with open(path, "r+b") as f:
        for offset in offsets:
            f.seek(offset)
            f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fill(path: str, size: int) -> None:
    with open(path, "r+b") as f:
        f.write((PATTERN * (size // len(PATTERN) + 1))[:size])
        f.flush()
        os.fsync(f.fileno())


def _nonzero_bytes(path: str) -> int:
    with open(path, "rb") as f:
        data = f.read()
    return len(data) - data.count(0)


def _start_middle_end(capacity: int) -> list[int]:
    return [0, capacity // 2, capacity - len(PATTERN)]


def test_pattern_at_start_middle_and_last_block_is_zeroed(make_volume) -> None:
    vol = make_volume(16 * MIB)
    _write_at(vol.path(), _start_middle_end(16 * MIB))
    assert _nonzero_bytes(vol.path()) == 3 * len(PATTERN)

    wipe_volume(vol)

    assert _nonzero_bytes(vol.path()) == 0
    assert os.path.getsize(vol.path()) == 16 * MIB


def test_sparse_volume_overwrites_only_its_data_extents(make_volume) -> None:
    vol = make_volume(16 * MIB, sparse=True)
    _write_at(vol.path(), _start_middle_end(16 * MIB))

    result = wipe_volume(vol)

    assert result.method == METHOD_ZERO_EXTENTS
    assert result.bytes_overwritten == 3 * len(PATTERN)
    assert result.capacity_bytes == 16 * MIB


def test_fully_written_volume_reports_full_capacity_overwritten(make_volume) -> None:
    capacity = 8 * MIB + 4096  # not a multiple of the block size: the last partial block counts too
    vol = make_volume(capacity, sparse=False)
    _fill(vol.path(), capacity)

    result = wipe_volume(vol)

    assert result.method == METHOD_ZERO
    assert result.bytes_overwritten == capacity
    assert result.capacity_bytes == capacity
    assert _nonzero_bytes(vol.path()) == 0


@pytest.mark.parametrize("block_bytes", [4 * MIB, 8 * MIB, 1 * MIB + 512])
def test_every_block_size_zeroes_the_whole_volume(make_volume, block_bytes: int) -> None:
    capacity = 9 * MIB + 4096
    vol = make_volume(capacity, sparse=False)
    _fill(vol.path(), capacity)

    result = wipe_volume(vol, block_bytes=block_bytes)

    assert result.bytes_overwritten == capacity
    assert _nonzero_bytes(vol.path()) == 0


def test_holes_are_overwritten_too_when_not_sparse_aware(make_volume) -> None:
    vol = make_volume(8 * MIB, sparse=True)
    _write_at(vol.path(), [MIB])

    result = wipe_volume(vol, sparse_aware=False)

    assert result.method == METHOD_ZERO
    assert result.bytes_overwritten == 8 * MIB
    assert _nonzero_bytes(vol.path()) == 0


def test_empty_sparse_volume_needs_no_writes(make_volume) -> None:
    vol = make_volume(8 * MIB, sparse=True)

    result = wipe_volume(vol)

    assert result.bytes_overwritten == 0
    assert result.method == METHOD_ZERO_EXTENTS


def test_libvirt_fallback_zeroes_the_volume(make_volume) -> None:
    vol = make_volume(8 * MIB, sparse=False)
    _write_at(vol.path(), _start_middle_end(8 * MIB))

    result = wipe_volume(vol, use_libvirt=True)

    assert result.method == METHOD_LIBVIRT
    assert result.bytes_overwritten == 8 * MIB
    assert _nonzero_bytes(vol.path()) == 0


def test_result_names_the_volume_and_takes_times_from_the_clock(make_volume) -> None:
    vol = make_volume(4 * MIB)
    clock = FixedClock(datetime(2027, 3, 30, 9, 0, tzinfo=UTC))

    result = wipe_volume(vol, clock=clock)

    assert (result.name, result.path) == (vol.name(), vol.path())
    assert result.started_at == result.finished_at == clock.now
    wire = result.to_wire()
    assert (wire.name, wire.capacity_bytes, wire.bytes_overwritten) == (vol.name(), 4 * MIB, 0)


def test_volume_still_exists_after_wipe(make_volume, dctest_pool: libvirt.virStoragePool) -> None:
    vol = make_volume(4 * MIB)
    _write_at(vol.path(), [0])

    wipe_volume(vol)

    # Deleting is the caller's step (after the deletion record is safe); the wipe must not do it.
    assert dctest_pool.storageVolLookupByName(vol.name()).info()[1] == 4 * MIB


def test_invalid_block_size_is_rejected_before_any_write(make_volume) -> None:
    vol = make_volume(4 * MIB, sparse=False)
    _fill(vol.path(), 4 * MIB)

    with pytest.raises(ValueError, match="block_bytes"):
        wipe_volume(vol, block_bytes=0)
    assert _nonzero_bytes(vol.path()) == 4 * MIB
