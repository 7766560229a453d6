"""Control-plane replicas tried in turn: the one retry-and-failover rule of every agent call.

Several replicas may be given (`DCLOUD_API_URL=https://cp-1:8080,https://cp-2:8080`): the agent stays on
one until it fails (a transport error, or a `ReplicaFailed` such as a 5xx or a cut transfer), then moves
to the next, so it keeps converging through a replica's restart or loss without a load balancer in
between. After every replica failed once it backs off exponentially; a call is tried at least once on
every replica. A JSON call (agents/client.py) and an image download (agents/image_fetch.py) share it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


class ControlPlaneUnavailable(Exception):
    """The control plane could not be reached or kept failing; the caller retries on its next pass."""


class ReplicaFailed(Exception):
    """This replica could not serve the call (a 5xx, a cut transfer); another one, or a retry, may."""


def split_api_urls(api_url: str | list[str]) -> list[str]:
    """`"https://a:8080, https://b:8080/"` (or a list) -> ["https://a:8080", "https://b:8080"]."""
    items = api_url.split(",") if isinstance(api_url, str) else api_url
    urls = [u.strip().rstrip("/") for u in items if u.strip()]
    if not urls:
        raise ValueError("no control plane URL given (DCLOUD_API_URL)")
    return urls


class Replicas:
    """The replicas' base URLs and the one in use. A base of "" means the HTTP client's own base URL."""

    def __init__(self, urls: list[str], *, attempts: int = 3, backoff_s: float = 0.5) -> None:
        if not urls:
            raise ValueError("no control plane URL given (DCLOUD_API_URL)")
        self.urls = urls
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.current = 0  # index of the replica in use; moves on when it fails

    @property
    def url(self) -> str:
        return self.urls[self.current]

    def call(self, what: str, send: Callable[[str], T], *, attempts: int | None = None) -> T:
        """`send(base URL)` on the replica in use; on a transport error or `ReplicaFailed`, again on the
        next one, backing off after each round. Anything else `send` raises is final and passes through.

        Failures are raised, not logged: the caller (a pass, the heartbeat, the watch) logs them once,
        with what it was doing.
        """
        last_error = ""
        tries = max(attempts or self.attempts, len(self.urls))
        for attempt in range(tries):
            if attempt and attempt % len(self.urls) == 0:  # every replica failed once: back off
                time.sleep(self.backoff_s * 2 ** (attempt // len(self.urls) - 1))
            base = self.url
            try:
                return send(base)
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            except ReplicaFailed as exc:
                last_error = str(exc)
            last_error = f"{base}: {last_error}" if base else last_error
            self.current = (self.current + 1) % len(self.urls)
        raise ControlPlaneUnavailable(f"{what}: {last_error} (after {tries} attempts)")
