"""API tokens: stored only as SHA-256 hashes; the plaintext is shown once at creation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    BILLING = "billing"
    AUDITOR = "auditor"
    AGENT = "agent"
    LAW_ENFORCEMENT = "disclosure"
    # A tenant: bound to one customer, sees and acts on that customer's resources only.
    CUSTOMER = "customer"


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    host_id: int | None = Field(default=None, foreign_key="hosts.id")
    # The one customer a `customer` token acts for; every other role's token has none.
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # After this instant the token authenticates nobody (401); None: until revoked.
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
