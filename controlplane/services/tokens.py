"""API tokens: issued once in plaintext, stored as SHA-256 hashes, revoked by id, optionally expiring.

A `customer` token is bound to one existing customer (the tenant it acts for), an `agent` token to one
host; no other token is bound to either. An expiry lies in the future and at most MAX_TOKEN_LIFETIME
away: a token that "expires" in the year 9999 is a token that never expires, said misleadingly.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.auth import ApiToken, Role
from controlplane.models.customer import Customer
from controlplane.models.host import Host
from controlplane.services.audit import record_change


def hash_token(token: str) -> str:
    """What the store keeps of a token: its SHA-256, so a leaked table grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


# The longest a token may be issued for; longer-lived access is a token without expiry, said plainly.
MAX_TOKEN_LIFETIME = timedelta(days=731)


def live_token(session: Session, plaintext: str, *, now: datetime) -> ApiToken | None:
    """The token row `plaintext` authenticates as at `now`, or None if unknown, revoked or expired."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext))).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return row


@dataclass(frozen=True)
class IssuedToken:
    row: ApiToken
    plaintext: str


def issue_token(
    session: Session,
    *,
    now: datetime,
    actor: str,
    role: Role,
    name: str,
    host_name: str | None = None,
    customer_id: int | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Creates a token; an agent token must name its host and a customer token its customer, and no
    other role may name either."""
    host_id = _host_binding(session, role=role, host_name=host_name)
    _check_customer_binding(session, role=role, customer_id=customer_id)
    _check_expiry(expires_at, now=now)
    plaintext = "dct_" + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        role=role.value,
        host_id=host_id,
        customer_id=customer_id,
        token_hash=hash_token(plaintext),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="token",
        entity_id=row.id or 0,
        action="create",
        after={
            "name": name,
            "role": role.value,
            "host": host_name,
            "customer_id": customer_id,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    session.commit()
    return IssuedToken(row=row, plaintext=plaintext)


def _host_binding(session: Session, *, role: Role, host_name: str | None) -> int | None:
    if role is Role.AGENT:
        if host_name is None:
            raise InvalidInput("an agent token must be bound to a host", field="host")
        host = session.exec(select(Host).where(Host.name == host_name)).first()
        if host is None:
            raise InvalidInput(f"unknown host {host_name!r}", field="host")
        return host.id
    if host_name is not None:
        raise InvalidInput(f"only agent tokens are bound to a host, not {role.value!r}", field="host")
    return None


def _check_customer_binding(session: Session, *, role: Role, customer_id: int | None) -> None:
    if role is Role.CUSTOMER:
        if customer_id is None:
            raise InvalidInput("a customer token must be bound to a customer", field="customer_id")
        if session.get(Customer, customer_id) is None:
            raise InvalidInput(f"unknown customer {customer_id}", field="customer_id")
    elif customer_id is not None:
        raise InvalidInput(
            f"only customer tokens are bound to a customer, not {role.value!r}", field="customer_id"
        )


def _check_expiry(expires_at: datetime | None, *, now: datetime) -> None:
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise InvalidInput("the expiry needs a UTC offset", field="expires_at")
    if expires_at <= now:
        raise InvalidInput("the expiry must lie in the future", field="expires_at")
    if expires_at > now + MAX_TOKEN_LIFETIME:
        raise InvalidInput(
            f"the expiry may be at most {MAX_TOKEN_LIFETIME.days} days away; omit it for a token that "
            "lives until revoked",
            field="expires_at",
        )


def revoke_token(session: Session, *, now: datetime, actor: str, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}", field="token_id")
    if row.revoked_at is not None:
        raise Conflict(f"token {token_id} is already revoked")
    row.revoked_at = now
    session.add(row)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="token",
        entity_id=token_id,
        action="revoke",
        before={"revoked": False},
        after={"revoked": True},
    )
    session.commit()
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.id))).all())
