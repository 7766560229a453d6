"""The benchmarks still run (at toy sizes), so `make bench` never rots between the times someone reads it.

This checks that each one completes and prints its row; the numbers themselves are read from `make bench`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgres
def test_store_benchmarks_complete_at_toy_sizes() -> None:
    env = {**os.environ, "DCLOUD_BENCH_CONTRACTS": "300", "DCLOUD_BENCH_IPAM_PREFIX": "20"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "sweep,invoicing,ipam"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = result.stdout.split("benchmark ", 1)[-1]
    for name in ("sweep", "invoic", "ipam"):
        assert name in table, result.stdout[-3000:]
