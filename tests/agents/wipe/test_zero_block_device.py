"""zero_path on a real block device (a loop device over a dctest file): the logical/disk-pool case."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from agents.wipe import METHOD_ZERO, zero_path

MIB = 1024 * 1024


@pytest.fixture
def loop_device() -> Iterator[str]:
    """A loop device over an 8 MiB + 4 KiB file full of non-zero bytes; detached and removed afterwards."""
    fd, backing = tempfile.mkstemp(prefix="dctest-loop-")
    os.write(fd, b"\xee" * (8 * MIB + 4096))
    os.close(fd)
    try:
        attach = subprocess.run(["losetup", "--find", "--show", backing], capture_output=True, text=True)
        if attach.returncode != 0:
            pytest.skip(f"no loop device available here: {attach.stderr.strip()}")
        device = attach.stdout.strip()
        try:
            yield device
        finally:
            subprocess.run(["losetup", "-d", device], check=True)
    finally:
        os.remove(backing)


def test_a_block_device_is_zeroed_end_to_end(loop_device: str) -> None:
    written, method = zero_path(loop_device)

    with open(loop_device, "rb") as f:
        data = f.read()
    assert (written, method) == (len(data), METHOD_ZERO)
    assert len(data) == 8 * MIB + 4096
    assert data.count(0) == len(data)
