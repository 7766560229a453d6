"""Request count and latency of the API by route template and status class, for every replica's /metrics.

Labels are the route's template (`/v1/servers/{server_id}`), never the raw path, so a scan of random
URLs cannot grow the series without bound; anything no route matched is `<unmatched>`. A pure ASGI
middleware: it sees the status as the response starts and never buffers a body (the long-poll watch and
the CSV export stream).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
# Up to a minute: the agents' desired-state watch waits up to 60 s by design (its route tells it apart).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "dcloud_http_requests",
            "API requests by method, route template and status class (2xx, 4xx, 5xx ...)",
            ["method", "route", "status_class"],
            registry=registry,
        )
        self.duration = Histogram(
            "dcloud_http_request_duration_seconds",
            "API request latency by method and route template, until the response started",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, f"{status // 100}xx").inc()
        self.duration.labels(method, route).observe(seconds)


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}  # an exception before the response started is a 500 to the client

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
                self._observe(scope, status["code"], started)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            self._observe(scope, 500, started)
            raise

    def _observe(self, scope: Scope, code: int, started: float) -> None:
        if scope.get("_dcloud_observed"):
            return
        scope["_dcloud_observed"] = True
        self.metrics.observe(scope["method"], route_template(scope), code, time.perf_counter() - started)
