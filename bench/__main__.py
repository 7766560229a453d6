"""`python -m bench [--only wipe,scrape] [--strict]`: run every registered benchmark and print the table.

To add a benchmark: write a module `bench/<name>.py` with `run() -> list[bench.result.Result]`
that cleans up what it creates (name things `dcbench-*`), then add one line to BENCHMARKS below.
Each Result carries its own baseline measured in the same run, so numbers compare across machines.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from bench.result import HEADER, Result, format_row

# The registry: short name (for --only) -> module with run() -> list[Result].
BENCHMARKS: dict[str, str] = {
    "wipe": "bench.wipe",
    "scrape": "bench.scrape",
    "ipam": "bench.ipam",
    "sweep": "bench.sweep",
    "invoicing": "bench.invoicing",
    "lifecycle": "bench.lifecycle",
    "guest": "bench.guest_boot",
}


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any result misses its target")
    return parser.parse_args(argv)


def _selected(only: str) -> list[str]:
    names = [name.strip() for name in only.split(",") if name.strip()] or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    return names


def _run_one(name: str) -> list[Result] | None:
    """Run one benchmark module; a crash is reported and the others still run."""
    print(f"== {name} ...", flush=True)
    started = time.perf_counter()
    try:
        results = importlib.import_module(BENCHMARKS[name]).run()
    except Exception:
        traceback.print_exc()
        print(f"== {name}: FAILED after {time.perf_counter() - started:.1f}s", flush=True)
        return None
    print(f"== {name}: done in {time.perf_counter() - started:.1f}s", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    results: list[Result] = []
    failed: list[str] = []
    for name in _selected(args.only):
        outcome = _run_one(name)
        if outcome is None:
            failed.append(name)
        else:
            results.extend(outcome)
    print()
    print(HEADER)
    for result in results:
        print(format_row(result))
    misses = [r.name for r in results if r.verdict == "MISS"]
    if failed:
        print(f"\nbenchmarks that crashed: {', '.join(failed)}")
    if misses:
        print(f"\nmissed targets: {', '.join(misses)}")
    return 1 if failed or (args.strict and misses) else 0


if __name__ == "__main__":
    raise SystemExit(main())
