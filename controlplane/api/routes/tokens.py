"""/v1/tokens (admin only): issue (plaintext returned once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from controlplane.api.deps import ClockDep, Principal, SessionDep, require_roles
from controlplane.api.presenters import token_public
from controlplane.errors import Conflict
from controlplane.models.auth import Role
from controlplane.schemas.tokens import TokenCreate, TokenCreated, TokenPublic
from controlplane.schemas.types import Id
from controlplane.services import tokens as token_service
from controlplane.services.fleet import hosts as host_service

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])

Admin = Annotated[Principal, Depends(require_roles())]


@router.post("", status_code=status.HTTP_201_CREATED)
def issue_token(body: TokenCreate, who: Admin, session: SessionDep, clock: ClockDep) -> TokenCreated:
    if body.role is Role.LAW_ENFORCEMENT:
        # Art. 24(5): the token that reads customers' identities is never minted over the network by one
        # admin token; it is issued on the control-plane host itself (`dcloud token create`), audited.
        raise Conflict(
            "a disclosure token is issued only on the control-plane host with `dcloud token "
            "create --role disclosure` (Art. 24(5)); the API does not mint it",
            field="role",
        )
    issued = token_service.issue_token(
        session,
        now=clock(),
        actor=who.actor,
        role=body.role,
        name=body.name,
        host_name=body.host,
        customer_id=body.customer_id,
        expires_at=body.expires_at,
    )
    public = token_public(issued.row, host_name=body.host)
    return TokenCreated(**public.model_dump(), token=issued.plaintext)


@router.get("")
def list_tokens(_who: Admin, session: SessionDep) -> list[TokenPublic]:
    rows = token_service.list_tokens(session)
    names = host_service.host_names(session, {r.host_id for r in rows if r.host_id is not None})
    return [token_public(r, host_name=names.get(r.host_id) if r.host_id else None) for r in rows]


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: Id, who: Admin, session: SessionDep, clock: ClockDep) -> None:
    token_service.revoke_token(session, now=clock(), actor=who.actor, token_id=token_id)
