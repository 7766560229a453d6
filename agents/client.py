"""Where the agent gets its desired state and sends what it observed: the control plane over HTTP.

`DesiredSource` is the seam: the reconciler only needs these four calls, so tests can drive it with
an in-memory or file-backed source while production uses `ControlPlaneClient`.

Several control-plane replicas may be given (`DCLOUD_API_URL=https://cp-1:8080,https://cp-2:8080`): every
call, the image download included, goes through `agents.failover.Replicas`, which stays on one until it
fails (a transport error or a 5xx), then moves to the next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from agents.failover import ControlPlaneUnavailable as ControlPlaneUnavailable  # callers catch it from here
from agents.failover import ReplicaFailed, Replicas, split_api_urls
from agents.image_fetch import DEFAULT_DEADLINE_S, download_image
from controlplane.protocol import (
    DESIRED_VERSION_HEADER,
    ConsoleOrders,
    DesiredImage,
    DesiredServer,
    DesiredVersion,
    Heartbeat,
    HostDesiredState,
    HostObservedState,
)


class ControlPlaneRejected(Exception):
    """The control plane answered with a 4xx: retrying the same request will not help."""

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__(f"control plane rejected the request: HTTP {status_code}: {body[:500]}")
        self.status_code = status_code


class DesiredSource(Protocol):
    def desired(self) -> HostDesiredState: ...

    def desired_one(self, server_id: str) -> DesiredServer | None: ...

    def report(self, observed: HostObservedState) -> None: ...

    def heartbeat(self, beat: Heartbeat) -> None: ...


class ControlPlaneClient:
    """The agent's side of the routes in controlplane/protocol.py, with timeouts, retries and failover."""

    def __init__(
        self,
        api_url: str | list[str],
        token: str,
        host_name: str,
        *,
        timeout_s: float = 10.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        image_deadline_s: float = DEFAULT_DEADLINE_S,
    ) -> None:
        self.host_name = host_name
        self.image_deadline_s = image_deadline_s
        # The console relay opens WebSockets with the same token (agents/console.py).
        self.auth_header = f"Bearer {token}"
        self._timeout_s = timeout_s
        self.replicas = Replicas(split_api_urls(api_url), attempts=attempts, backoff_s=backoff_s)
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
        )
        self._host_path = f"/v1/hosts/{quote(host_name, safe='')}"
        # The version of the last desired state fetched (None before the first, or from an old server).
        self.desired_version: str | None = None

    def desired(self) -> HostDesiredState:
        response = self._request("GET", f"{self._host_path}/desired-state")
        self.desired_version = response.headers.get(DESIRED_VERSION_HEADER)
        return HostDesiredState.model_validate_json(response.content)

    def watch(self, since: str, wait_s: float) -> str:
        """Long-polls until the desired-state version differs from `since` (at most `wait_s`); returns it.

        One attempt: the watcher owns the backoff, and the poll covers for it meanwhile.
        """
        response = self._request(
            "GET",
            f"{self._host_path}/desired-state/watch",
            params={"since": since, "wait_s": wait_s},
            timeout_s=wait_s + self._timeout_s,
            attempts=1,
        )
        return DesiredVersion.model_validate_json(response.content).version

    def console_orders(self, seen: list[str], wait_s: float) -> ConsoleOrders:
        """Long-polls for console sessions waiting on this host that are not in `seen` (one attempt)."""
        response = self._request(
            "GET",
            f"{self._host_path}/console-sessions/watch",
            params={"seen": seen, "wait_s": wait_s},
            timeout_s=wait_s + self._timeout_s,
            attempts=1,
        )
        return ConsoleOrders.model_validate_json(response.content)

    def desired_one(self, server_id: str) -> DesiredServer | None:
        """The server's current desired state, or None when the control plane does not know it."""
        path = f"{self._host_path}/servers/{quote(server_id, safe='')}/desired-state"
        response = self._request("GET", path, missing_ok=True)
        if response.status_code == 404:
            return None
        return DesiredServer.model_validate_json(response.content)

    def report(self, observed: HostObservedState) -> None:
        self._request("POST", f"{self._host_path}/observed-state", json=observed.model_dump(mode="json"))

    def heartbeat(self, beat: Heartbeat) -> None:
        self._request("POST", f"{self._host_path}/heartbeat", json=beat.model_dump(mode="json"))

    def fetch_image(self, image: DesiredImage, dest: Path) -> None:
        """Stream an image into `dest`, resuming a partial file there; verified (agents/image_fetch.py).

        A replica that lacks the file answers 503: the rest comes from the next replica, with Range.
        """
        path = f"{self._host_path}/images/{quote(image.id, safe='')}/file"
        download_image(
            self._http,
            path,
            image,
            dest,
            attempts=self.replicas.attempts + 2,
            replicas=self.replicas,
            deadline_s=self.image_deadline_s,
        )

    def close(self) -> None:
        self._http.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: object | None = None,
        missing_ok: bool = False,
        params: dict[str, str | float | list[str]] | None = None,
        timeout_s: float | None = None,
        attempts: int | None = None,
    ) -> httpx.Response:
        """One call on the replicas (agents/failover.py): transport errors and 5xx move to the next
        replica, with backoff after each round; 4xx are final."""
        timeout = httpx.Timeout(timeout_s) if timeout_s is not None else httpx.USE_CLIENT_DEFAULT

        def send(base: str) -> httpx.Response:
            response = self._http.request(method, base + path, json=json, params=params, timeout=timeout)
            if response.status_code >= 500:
                raise ReplicaFailed(f"HTTP {response.status_code}")
            if response.status_code == 404 and missing_ok:
                return response
            if response.status_code >= 400:
                raise ControlPlaneRejected(response.status_code, response.text)
            return response

        return self.replicas.call(f"{method} {path}", send, attempts=attempts)
