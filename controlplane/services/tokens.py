"""API tokens: issued once in plaintext, stored as SHA-256 hashes, revoked by id."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.auth import ApiToken, Role
from controlplane.models.host import Host
from controlplane.services.audit import record_change


def hash_token(token: str) -> str:
    """What the store keeps of a token: its SHA-256, so a leaked table grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def live_token(session: Session, plaintext: str) -> ApiToken | None:
    """The token row `plaintext` authenticates as, or None if it is unknown or revoked."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext))).first()
    return row if row is not None and row.revoked_at is None else None


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
) -> IssuedToken:
    """Creates a token; an agent token must name its host, and no other role may."""
    host_id = _host_binding(session, role=role, host_name=host_name)
    plaintext = "dct_" + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name, role=role.value, host_id=host_id, token_hash=hash_token(plaintext), created_at=now
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
        after={"name": name, "role": role.value, "host": host_name},
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
