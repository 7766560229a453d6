"""Test entry: one host agent process over a FileSource, so a test can kill -9 it mid-delete.

    python -m tests.agents.reconcile.file_agent --dir D --state-dir S --uri U --pool P --pool-path PP
        [--mode once|runner] [--crash-after STEP]

`once` runs a single Reconciler pass and exits 0; `runner` runs the real run_agent loop until SIGTERM.
`--crash-after STEP[:N]` (once mode) arms agents/faults.py: SIGKILL right after the Nth time of that step
(the runner mode honours DCLOUD_TEST_AGENT_CRASH_POINT the same way).
"""

from __future__ import annotations

import argparse
import logging
import sys

import libvirt

from agents.driver import LibvirtDriver
from agents.faults import step_hook
from agents.journal import DeletionJournal
from agents.metrics import AgentMetrics
from agents.reconcile import Reconciler
from agents.runner import run_agent
from controlplane.config import Settings
from tests.agents.reconcile.sources import FileSource


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--uri", default="qemu:///system")
    parser.add_argument("--pool", required=True)
    parser.add_argument("--pool-path", required=True)
    parser.add_argument("--mode", choices=["once", "runner"], default="once")
    parser.add_argument("--crash-after", help="once: SIGKILL right after this step (STEP[:N])")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="runner: seconds between polls")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    source = FileSource(args.dir)
    if args.mode == "runner":
        settings = Settings(
            libvirt_uri=args.uri,
            state_dir=args.state_dir,
            storage_pool=args.pool,
            storage_pool_path=args.pool_path,
            agent_metrics_port=0,
            agent_poll_interval_s=args.poll_interval,
            agent_resync_interval_s=max(60.0, args.poll_interval),
            stop_timeout_s=1.0,
        )
        run_agent(settings, source=source)
        return 0
    conn = libvirt.open(args.uri)
    try:
        driver = LibvirtDriver(conn, pool_name=args.pool, pool_path=args.pool_path, stop_timeout_s=1.0)
        driver.ensure_pool()
        journal = DeletionJournal(args.state_dir, after_step=step_hook(args.crash_after))
        result = Reconciler(driver, source, journal, AgentMetrics()).run_once()
    finally:
        conn.close()
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
