"""Schemas of a customer's objection to, or acceptance of, a terms version (Art. 3(3),(4))."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from controlplane.schemas.types import Line


class TermsResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Line = Field(min_length=1, max_length=32)


class TermsResponsePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    contract_id: int
    version: str
    objected_at: datetime | None
    accepted_at: datetime | None
