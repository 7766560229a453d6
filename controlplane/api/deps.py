"""FastAPI dependencies as Annotated aliases: every route states in its signature what it needs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.clock import Clock
from controlplane.config import Settings
from controlplane.errors import Forbidden, Unauthenticated
from controlplane.models.auth import Role
from controlplane.services.tokens import live_token


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_draining(request: Request) -> threading.Event:
    draining: threading.Event = request.app.state.draining
    return draining


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# Set once the server is shutting down: what waits (a watch) answers now instead of being cut off.
DrainingDep = Annotated[threading.Event, Depends(get_draining)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, role and, for agents, the one host it is bound to."""

    token_id: int
    name: str
    role: Role
    host_id: int | None

    @property
    def actor(self) -> str:
        return f"{self.role.value}:{self.name}"


def current_principal(request: Request, session: SessionDep) -> Principal:
    return principal_from_header(session, request.headers.get("authorization", ""))


def principal_from_header(session: Session, header: str) -> Principal:
    """The caller an `Authorization: Bearer` header names (WebSocket routes call this directly)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing bearer token")
    row = live_token(session, token.strip())
    if row is None or row.id is None:
        raise Unauthenticated("unknown or revoked token")
    return Principal(token_id=row.id, name=row.name, role=Role(row.role), host_id=row.host_id)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (admin is always admitted)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"role {principal.role.value!r} may not do this; needs one of: {names}")
        return principal

    return check
