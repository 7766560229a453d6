"""A customer's answer to a new terms version (Art. 3(3),(4)): an objection, an acceptance, or both."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime


class TermsResponse(SQLModel, table=True):
    """One row per (contract, version). An objection keeps the old version to the term's end; without a
    later acceptance the contract does not renew (Art. 3(4)). Silence is consent (Art. 3(3))."""

    __tablename__ = "contract_terms_responses"
    __table_args__ = (UniqueConstraint("contract_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id", index=True)
    version: str = Field(max_length=32)
    objected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
