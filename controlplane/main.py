"""The app factory: `create_app()` for uvicorn, `create_app(engine=..., clock=...)` for tests."""

from __future__ import annotations

import threading

from fastapi import FastAPI
from sqlalchemy import Engine

from controlplane.api.console_relay import ConsoleRelay
from controlplane.api.errors import install_error_handlers, install_validation_handler
from controlplane.api.http_metrics import HttpMetrics, HttpMetricsMiddleware
from controlplane.api.limits import BodySizeLimit
from controlplane.api.main import api_router
from controlplane.api.openapi_contract import install_openapi_contract
from controlplane.clock import Clock, system_clock
from controlplane.config import Settings, get_settings
from controlplane.db import make_engine
from controlplane.metrics import build_registry
from controlplane.policy_registry import configure_policies
from network.api import router as network_router


def create_app(
    *, settings: Settings | None = None, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    settings = settings or get_settings()
    # Loaded once, before serving: a bad policy file must stop startup, not a sweep at 2 a.m.
    configure_policies(settings.policy_file)
    app = FastAPI(title="dcloud control plane", version="0.1.0", openapi_url="/openapi.json")
    app.state.settings = settings
    app.state.engine = engine if engine is not None else make_engine(settings.database_url)
    app.state.clock = clock or system_clock
    app.state.metrics_registry = build_registry(app.state.engine, app.state.clock, settings)
    # Set by the server as it starts shutting down (controlplane/cli/up.py): long polls answer at once.
    app.state.draining = threading.Event()
    # Console sessions this replica is relaying (controlplane/api/console_relay.py).
    app.state.console_relay = ConsoleRelay()
    app.add_middleware(BodySizeLimit)  # nothing reads a body over 1 MiB
    # Outermost, so a refused body and an error response are counted like any other answer.
    app.add_middleware(HttpMetricsMiddleware, metrics=HttpMetrics(app.state.metrics_registry))
    install_error_handlers(app)
    install_validation_handler(app)
    app.include_router(api_router)
    app.include_router(network_router)  # /v1/network/..., RDAP
    install_openapi_contract(app)
    return app
