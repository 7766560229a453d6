"""`dcloud up`: everything on one machine: store, API, scheduler, local agent and WHOIS server."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.cli.store import create_token, register_host, saved_token_is_valid, write_secret
from controlplane.clock import system_clock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.main import create_app
from controlplane.migrations import upgrade
from controlplane.models.host import Host

log = logging.getLogger("dcloud.up")
# The agent finishes its current pass before it sees the stop event; do not wait on it forever.
_JOIN_TIMEOUT_S = 10.0
# Agents hold desired-state watches open for up to 25 s; draining answers them at once (they retry), so
# this only bounds other requests.
_GRACEFUL_SHUTDOWN_S = 3


def ensure_local_host(settings: Settings, engine: Engine, host_name: str) -> None:
    """First start only: register this machine with the capacity its libvirt reports."""
    with Session(engine) as session:
        if session.exec(select(Host).where(Host.name == host_name)).first() is not None:
            return
    host = register_host(settings, name=host_name, libvirt_uri=settings.libvirt_uri)
    print(
        f"registered this host as {host.name!r}: {host.vcpus} vcpus, {host.memory_mib} MiB, "
        f"{host.disk_gib} GiB",
        flush=True,
    )


def ensure_token(
    settings: Settings, engine: Engine, path: Path, *, role: str, host: str | None
) -> tuple[str, bool]:
    """Reuses the token saved at `path` while it is valid; otherwise creates one. Returns (token, is_new)."""
    token = saved_token_is_valid(engine, path)
    if token is not None:
        return token, False
    token = create_token(settings, role=role, host=host, name=f"{role}@{host or 'up'}")
    write_secret(path, token)
    return token, True


class _AllInOneServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its own shutdown, which would kill the process before the agent and
    scheduler stop; here the signal stops everything and `dcloud up`/`serve` exit 0 after joining them.

    Shutting down, it tells the app to drain (`app.state.draining`) before uvicorn waits for open
    requests, so long polls answer within one check instead of being cancelled at the timeout."""

    def __init__(self, app: FastAPI, config: uvicorn.Config, stop: threading.Event) -> None:
        super().__init__(config)
        self._stop = stop
        self._draining: threading.Event = app.state.draining

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # No await between this and uvicorn closing the listeners and marking open requests
        # `Connection: close`: an answered watch's retry cannot land on this server again.
        self._draining.set()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._stop.set()
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: do not wait for open connections
        else:
            self.should_exit = True


def _thread(name: str, target: Callable[[], None]) -> threading.Thread:
    def guarded() -> None:
        try:
            target()
        except Exception:  # one part failing must not take the others down silently
            log.exception("%s stopped with an error", name)

    thread = threading.Thread(target=guarded, name=name, daemon=True)
    thread.start()
    return thread


def _start_agent_when_api_is_up(server: uvicorn.Server, settings: Settings, stop: threading.Event) -> None:
    from agents.runner import run_agent  # lazily: needs libvirt-python and the agent package

    while not server.started and not stop.is_set():
        stop.wait(0.1)
    if not stop.is_set():
        run_agent(settings, stop_event=stop)


def _run_whois(settings: Settings, stop: threading.Event) -> None:
    try:
        from network.whois_server import run_whois_server
    except ImportError:
        log.info("no WHOIS server in this build")
        return
    run_whois_server(settings, stop)


def _run_scheduler(settings: Settings, engine: Engine, stop: threading.Event) -> None:
    from scheduler.leader import elector_for
    from scheduler.registry import JobContext
    from scheduler.runner import run_scheduler

    run_scheduler(JobContext(engine=engine, settings=settings, clock=system_clock), elector_for(engine), stop)


def run_scheduler_thread(settings: Settings, engine: Engine, stop: threading.Event) -> threading.Thread:
    """Starts the scheduler; a missing job module raises here, before any thread or server starts."""
    from scheduler.registry import load_job_modules

    load_job_modules()
    return _thread("scheduler", lambda: _run_scheduler(settings, engine, stop))


def run_api(settings: Settings, *, bind: str, port: int, log_level: str | None, with_scheduler: bool) -> int:
    """`dcloud serve`: the API; with the scheduler too, whose jobs run only in the elected leader.

    `log_level` overrides the uvicorn loggers' levels; None leaves them to `controlplane.cli.logs`."""
    engine = make_engine(settings.database_url)
    stop = threading.Event()
    threads = [run_scheduler_thread(settings, engine, stop)] if with_scheduler else []
    app = create_app(settings=settings, engine=engine)
    server = _AllInOneServer(app, _uvicorn_config(app, bind, port, log_level), stop)
    return _serve_until_stopped(server, stop, threads, engine)


def _uvicorn_config(app: FastAPI, bind: str, port: int, log_level: str | None = None) -> uvicorn.Config:
    # log_config=None: uvicorn logs through the one handler of controlplane.cli.logs, in its format.
    return uvicorn.Config(
        app,
        host=bind,
        port=port,
        log_level=log_level,
        log_config=None,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
    )


def _serve_until_stopped(
    server: uvicorn.Server, stop: threading.Event, threads: list[threading.Thread], engine: Engine
) -> int:
    try:
        server.run()  # returns after SIGINT/SIGTERM
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=_JOIN_TIMEOUT_S)
        engine.dispose()
    return 0


def run_all_in_one(
    settings: Settings,
    *,
    bind: str | None,
    port: int | None,
    with_agent: bool = True,
    with_whois: bool = True,
) -> int:
    bind, port = bind or settings.api_host, port or settings.api_port
    engine = make_engine(settings.database_url)
    upgrade(engine)
    host_name = settings.host_name or socket.gethostname()
    state = Path(settings.state_dir)
    if with_agent:
        ensure_local_host(settings, engine, host_name)
    agent_token, _ = (
        ensure_token(settings, engine, state / f"agent-{host_name}.token", role="agent", host=host_name)
        if with_agent
        else ("", False)
    )
    admin_token, new_admin = ensure_token(settings, engine, state / "admin.token", role="admin", host=None)
    if new_admin:
        print(f"admin token (shown once, saved to {state / 'admin.token'}):\n{admin_token}", flush=True)
    api_host = "127.0.0.1" if bind in ("0.0.0.0", "::") else bind
    local = settings.model_copy(update={"api_url": f"http://{api_host}:{port}", "host_name": host_name})
    stop = threading.Event()
    app = create_app(settings=local, engine=engine)
    server = _AllInOneServer(app, _uvicorn_config(app, bind, port), stop)
    threads = [run_scheduler_thread(local, engine, stop)]
    if with_whois:
        threads.append(_thread("whois", lambda: _run_whois(local, stop)))
    if with_agent:
        agent = local.model_copy(update={"token": agent_token})
        threads.append(_thread("agent", lambda: _start_agent_when_api_is_up(server, agent, stop)))
    return _serve_until_stopped(server, stop, threads, engine)
