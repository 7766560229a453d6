"""`DesiredWatch`: a daemon thread long-polling the control plane's desired-state watch, so an order
placed through the API reaches the agent's loop within a fraction of a second instead of at its next poll.

Like a Kubernetes watch it carries no state itself: it only learns that the version changed and asks the
loop for a pass (`on_change`); the loop then reads the desired state as usual. When the watch fails
(control plane down, restarting, an older one without the route) it backs off exponentially and the
loop's poll keeps converging meanwhile. A version is never skipped: the thread watches from the last
version it saw, so any change after that answers the next watch, even one made while it was failing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

# Short enough that a stopping agent's last watch ends soon; long enough to cost ~nothing while idle.
DEFAULT_WAIT_S = 25.0
_BACKOFF_START_S = 0.5
_BACKOFF_MAX_S = 30.0


class WatchSource(Protocol):
    """What the watch needs of the control plane client (`agents.client.ControlPlaneClient`)."""

    desired_version: str | None

    def watch(self, since: str, wait_s: float) -> str: ...


def supports_watch(source: object) -> bool:
    """True for sources that can be watched (the HTTP client; test sources usually cannot)."""
    return callable(getattr(source, "watch", None)) and hasattr(source, "desired_version")


class DesiredWatch:
    """Calls `on_change` whenever the host's desired-state version moves, until `stop_event` is set."""

    def __init__(
        self,
        source: WatchSource,
        on_change: Callable[[], None],
        stop_event: threading.Event,
        *,
        wait_s: float = DEFAULT_WAIT_S,
        on_error: Callable[[], None] | None = None,
        backoff_start_s: float = _BACKOFF_START_S,
        backoff_max_s: float = _BACKOFF_MAX_S,
    ) -> None:
        self._source = source
        self._on_change = on_change
        self._on_error = on_error
        self._stop = stop_event
        self._wait_s = wait_s
        self._backoff_start_s = backoff_start_s
        self._backoff_max_s = backoff_max_s
        self._thread: threading.Thread | None = None
        self.changes_seen = 0
        self.failures = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="desired-watch", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        """Wait briefly for the thread; a watch in flight may outlive this (it is a daemon, and ends at
        its `wait_s` at the latest)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        # Start from what the loop last fetched; before its first fetch, "" makes the first watch answer
        # at once and costs one spare pass rather than a window in which a change could be missed.
        since = self._source.desired_version or ""
        backoff_s = self._backoff_start_s
        while not self._stop.is_set():
            try:
                version = self._source.watch(since, self._wait_s)
            except Exception as exc:  # any failure: back off, the poll covers for us meanwhile
                if self._stop.is_set():
                    break  # the API going away under a stopping agent is no failure
                self.failures += 1
                log.warning("desired-state watch failed (%s); retrying in %.1fs", exc, backoff_s)
                if self._on_error is not None:
                    self._on_error()
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, self._backoff_max_s)
                continue
            backoff_s = self._backoff_start_s
            if version != since and not self._stop.is_set():
                since = version
                self.changes_seen += 1
                log.debug("desired state changed (version %s): waking the loop", version)
                self._on_change()
