"""`ServerDispatch`: the agent works on several servers at once, and on each server one thing at a time.

A 60 s ACPI stop of one server must not hold up a suspend ordered for another (Nova serialises per
instance with a lock and runs instances in parallel; this is the same shape). Each server's convergence
runs on a small pool of daemon threads (`max_workers`, the per-host bound: libvirt and the disks are
shared); a server with work in flight is not given more until that work ends, so two steps never race on
one domain. The caller waits a short while (`wait_s`) for what it submitted; work that is still running
then is "late": it finishes on its own and hands its outcome to `on_late`, and the pass reports the server
as busy meanwhile.

Daemon threads, not a ThreadPoolExecutor: an agent asked to stop must not wait for a guest's shutdown
timeout; every step is idempotent, so work cut short is finished by the next agent's pass.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_WORKERS = 4
DEFAULT_WAIT_S = 1.0


@dataclass(frozen=True)
class Submitted(Generic[T]):
    """What one round of submissions gave: outcomes in time, and servers left busy (late or earlier)."""

    done: dict[str, T]
    busy: set[str]


class ServerDispatch(Generic[T]):
    def __init__(
        self,
        *,
        max_workers: int = DEFAULT_MAX_WORKERS,
        wait_s: float = DEFAULT_WAIT_S,
        on_late: Callable[[str, T], None] | None = None,
    ) -> None:
        self.max_workers = max(1, max_workers)
        self.wait_s = wait_s
        self._on_late = on_late
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future[T]] = {}
        self._late: set[str] = set()
        self._queue: queue.SimpleQueue[tuple[str, Callable[[], T], Future[T]] | None] = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._work, name=f"server-worker-{i}", daemon=True)
            for i in range(self.max_workers)
        ]
        for worker in self._workers:
            worker.start()

    def busy(self, server_id: str) -> bool:
        with self._lock:
            return server_id in self._in_flight

    def run(self, jobs: dict[str, Callable[[], T]]) -> Submitted[T]:
        """Submits every job whose server is idle, waits up to `wait_s` for them, returns what finished."""
        submitted: dict[str, Future[T]] = {}
        busy: set[str] = set()
        with self._lock:
            for server_id, job in jobs.items():
                if server_id in self._in_flight:
                    busy.add(server_id)
                    continue
                future: Future[T] = Future()
                self._in_flight[server_id] = future
                submitted[server_id] = future
                self._queue.put((server_id, job, future))
        wait(submitted.values(), timeout=self.wait_s)
        done: dict[str, T] = {}
        with self._lock:
            for server_id, future in submitted.items():
                if future.done():
                    if future.exception() is None:  # a failed job was logged by its worker
                        done[server_id] = future.result()
                else:  # reported by `on_late` once it ends, from its worker thread
                    self._late.add(server_id)
                    busy.add(server_id)
        return Submitted(done=done, busy=busy)

    def stop(self) -> None:
        """Workers end after their current job; queued jobs are dropped (the next pass redoes them)."""
        for _ in self._workers:
            self._queue.put(None)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            server_id, job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                outcome = job()
            except BaseException as exc:  # the job catches its own failures; this is a last resort
                log.exception("work on server %s failed", server_id)
                future.set_exception(exc)
                self._settle(server_id)
                continue
            future.set_result(outcome)
            if self._settle(server_id) and self._on_late is not None:
                self._on_late(server_id, outcome)

    def _settle(self, server_id: str) -> bool:
        """Frees the server for new work; True when nobody waited for this outcome (it was late)."""
        with self._lock:
            self._in_flight.pop(server_id, None)
            late = server_id in self._late
            self._late.discard(server_id)
        return late
