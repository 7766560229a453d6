"""FastAPI dependencies as Annotated aliases: every route states in its signature what it needs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.clock import Clock
from controlplane.config import Settings
from controlplane.errors import Forbidden, Unauthenticated
from controlplane.models.auth import Role
from controlplane.services.tenancy import Owned, contracts_of, ensure_owned
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
    """Who is calling: the token's id, role and, for agents, the one host it is bound to; for customer
    tokens, the one customer (tenant) they act for."""

    token_id: int
    name: str
    role: Role
    host_id: int | None
    customer_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{self.role.value}:{self.name}"


def current_principal(request: Request, session: SessionDep, clock: ClockDep) -> Principal:
    return principal_from_header(session, request.headers.get("authorization", ""), now=clock())


def principal_from_header(session: Session, header: str, *, now: datetime) -> Principal:
    """The caller an `Authorization: Bearer` header names (WebSocket routes call this directly)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing bearer token")
    row = live_token(session, token.strip(), now=now)
    if row is None or row.id is None:
        raise Unauthenticated("unknown, revoked or expired token")
    return Principal(
        token_id=row.id, name=row.name, role=Role(row.role), host_id=row.host_id, customer_id=row.customer_id
    )


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


@dataclass(frozen=True)
class Tenant:
    """The caller's tenant, for scoping lookups: `customer_id` is None for staff (they see what their
    role allows) and the bound customer for a `customer` token.

    Use `tenant.owns(...)` before reading one resource by id, and pass `tenant.customer_id` (or
    `tenant.contracts()`) to a listing: to a customer, another customer's resource is a 404.
    """

    customer_id: int | None
    session: Session

    @property
    def is_customer(self) -> bool:
        return self.customer_id is not None

    def owns(self, kind: Owned, resource_id: int | str, *, field: str) -> None:
        """Nothing for staff; for a customer, the same 404 as a missing resource unless it is its own."""
        if self.customer_id is not None:
            ensure_owned(
                self.session, customer_id=self.customer_id, kind=kind, resource_id=resource_id, field=field
            )

    def contracts(self) -> object | None:
        """The tenant's contract ids as a subquery (None for staff: no restriction)."""
        return contracts_of(self.customer_id) if self.customer_id is not None else None


def current_tenant(principal: CurrentPrincipal, session: SessionDep) -> Tenant:
    if principal.role is Role.CUSTOMER:
        if principal.customer_id is None:  # a customer token always has one (tokens.issue_token)
            raise Forbidden("this customer token is bound to no customer")
        return Tenant(customer_id=principal.customer_id, session=session)
    return Tenant(customer_id=None, session=session)


TenantDep = Annotated[Tenant, Depends(current_tenant)]
