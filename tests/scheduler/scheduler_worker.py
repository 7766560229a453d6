"""A scheduler process for the multi-process tests: one `tick` job on a fast-forwarded clock.

The body appends `start <fire> <pid>` and, after `--body-s` real seconds, `end <fire> <pid>` to `--log`
(O_APPEND: lines from both processes never interleave), so the test sees every body that ran.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

from controlplane.config import Settings
from controlplane.db import make_engine
from scheduler.leader import LeaderElector, PgAdvisoryLeader, SingleProcessLeader, conninfo_for
from scheduler.registry import JobContext, JobRegistry, register_job
from scheduler.runner import Scheduler

SIM_START = datetime(2027, 3, 1, tzinfo=UTC)


class FastClock:
    """Simulated time: SIM_START + (real time since `real_start`) x `speed`, the same in every process."""

    def __init__(self, real_start: float, speed: float) -> None:
        self.real_start, self.speed = real_start, speed

    def __call__(self) -> datetime:
        return SIM_START + timedelta(seconds=(time.time() - self.real_start) * self.speed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--real-start", type=float, required=True)
    parser.add_argument("--speed", type=float, default=7200.0)
    parser.add_argument("--body-s", type=float, default=0.0)
    parser.add_argument("--check-s", type=float, default=0.1)
    parser.add_argument("--forced", action="store_true", help="believe it leads, whatever the lock says")
    args = parser.parse_args()
    log_fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    pid = os.getpid()

    def tick(ctx: JobContext) -> None:
        assert ctx.scheduled_for is not None
        fire = ctx.scheduled_for.isoformat()
        os.write(log_fd, f"start {fire} {pid}\n".encode())
        time.sleep(args.body_s)
        os.write(log_fd, f"end {fire} {pid}\n".encode())

    registry = JobRegistry()
    register_job("tick", hours=1, registry=registry)(tick)
    engine = make_engine(args.url)
    elector: LeaderElector = SingleProcessLeader() if args.forced else PgAdvisoryLeader(conninfo_for(engine))
    context = JobContext(engine=engine, settings=Settings(), clock=FastClock(args.real_start, args.speed))
    scheduler = Scheduler(
        context=context, elector=elector, registry=registry, check_interval_s=args.check_s, runner=f"w{pid}"
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    os.write(log_fd, f"ready - {pid}\n".encode())
    scheduler.run_until(stop)
    elector.close()
    engine.dispose()


if __name__ == "__main__":
    main()
