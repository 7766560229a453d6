"""Token schemas: the plaintext appears only in TokenCreated, once."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from controlplane.models.auth import Role
from controlplane.schemas.types import Id, Line, Moment


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: Line = Field(min_length=1, max_length=128)
    host: Line | None = Field(default=None, min_length=1, max_length=63)
    customer_id: Id | None = Field(default=None, description="the customer a `customer` token acts for")
    expires_at: Moment | None = Field(
        default=None, description="after this instant the token is refused (401); omit: until revoked"
    )


class TokenPublic(BaseModel):
    id: int
    name: str
    role: str
    host: str | None
    customer_id: int | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None


class TokenCreated(TokenPublic):
    token: str
